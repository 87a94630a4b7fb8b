#include "viewer/app/gif_writer.hpp"

#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace flowframe::viewer {

GifWriter::GifWriter(const std::string& path, int width, int height, int fps)
    : path_(path), width_(width), height_(height), fps_(std::max(fps, 1)) {
  if (width <= 0 || height <= 0) throw std::runtime_error(path + ": nothing to record (an empty picture)");
  int error = 0;
  gif_ = EGifOpenFileName(path.c_str(), false, &error);
  if (!gif_) fail("cannot write", error);
  try {
    start();
  } catch (...) {
    EGifCloseFile(gif_, nullptr);  // the destructor does not run for a constructor that throws
    gif_ = nullptr;
    throw;
  }
}

void GifWriter::start() {
  EGifSetGifVersion(gif_, true);
  if (EGifPutScreenDesc(gif_, width_, height_, 8, 0, nullptr) == GIF_ERROR) fail("cannot write", gif_->Error);
  // Loop for ever (the NETSCAPE2.0 application extension browsers read).
  const unsigned char loop[3] = {1, 0, 0};
  if (EGifPutExtensionLeader(gif_, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
      EGifPutExtensionBlock(gif_, 11, "NETSCAPE2.0") == GIF_ERROR || EGifPutExtensionBlock(gif_, 3, loop) == GIF_ERROR ||
      EGifPutExtensionTrailer(gif_) == GIF_ERROR)
    fail("cannot write", gif_->Error);
}

GifWriter::~GifWriter() {
  if (gif_) EGifCloseFile(gif_, nullptr);
}

void GifWriter::fail(const std::string& what, int error) {
  throw std::runtime_error(path_ + ": " + what + ": " + (GifErrorString(error) ? GifErrorString(error) : "giflib error"));
}

void GifWriter::add(const std::vector<unsigned char>& rgba) {
  if (rgba.size() != static_cast<std::size_t>(width_) * height_ * 4) throw std::runtime_error(path_ + ": a frame of the wrong size");
  // Delays are whole hundredths: each picture's is where its end falls minus where its start did,
  // so the clip keeps time at any fps.
  const int delay = (added_ + 1) * 100 / fps_ - added_ * 100 / fps_;
  ++added_;
  // Nothing moved: the picture before shows longer (up to the 16-bit delay GIF can say).
  if (!pending_.empty() && pending_ == rgba && pending_delay_cs_ + delay <= 0xFFFF) {
    pending_delay_cs_ += delay;
    return;
  }
  write_pending();
  pending_ = rgba;
  pending_delay_cs_ = delay;
}

void GifWriter::write_pending() {
  if (pending_.empty()) return;
  // The rectangle that differs from the picture written before (all of it at first). Outside it
  // the file keeps showing that picture's colours.
  int left = 0, top = 0, right = width_ - 1, bottom = height_ - 1;
  if (!written_.empty()) {
    left = width_, top = height_, right = -1, bottom = -1;
    for (int y = 0; y < height_; ++y) {
      const auto* now = &pending_[static_cast<std::size_t>(y) * width_ * 4];
      const auto* was = &written_[static_cast<std::size_t>(y) * width_ * 4];
      if (std::memcmp(now, was, static_cast<std::size_t>(width_) * 4) == 0) continue;
      top = std::min(top, y), bottom = y;
      for (int x = 0; x < width_; ++x)
        if (std::memcmp(now + x * 4, was + x * 4, 4) != 0) left = std::min(left, x), right = std::max(right, x);
    }
    if (right < 0) left = top = right = bottom = 0;  // unreachable: equal pictures are merged in add()
  }
  const int w = right - left + 1, h = bottom - top + 1;
  std::vector<GifByteType> red(static_cast<std::size_t>(w) * h), green(red.size()), blue(red.size()), indices(red.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const auto* p = &pending_[(static_cast<std::size_t>(top + y) * width_ + left + x) * 4];
      const auto at = static_cast<std::size_t>(y) * w + x;
      red[at] = p[0], green[at] = p[1], blue[at] = p[2];
    }
  int colours = 256;
  GifColorType palette[256];
  if (GifQuantizeBuffer(static_cast<unsigned>(w), static_cast<unsigned>(h), &colours, red.data(), green.data(), blue.data(),
                        indices.data(), palette) == GIF_ERROR)
    throw std::runtime_error(path_ + ": cannot reduce a frame to 256 colours");
  ColorMapObject* map = GifMakeMapObject(256, palette);
  GraphicsControlBlock control{};
  control.DisposalMode = DISPOSE_DO_NOT;
  control.DelayTime = pending_delay_cs_;
  control.TransparentColor = NO_TRANSPARENT_COLOR;
  GifByteType extension[4];
  EGifGCBToExtension(&control, extension);
  bool ok = EGifPutExtension(gif_, GRAPHICS_EXT_FUNC_CODE, 4, extension) != GIF_ERROR &&
            EGifPutImageDesc(gif_, left, top, w, h, false, map) != GIF_ERROR;
  for (int y = 0; ok && y < h; ++y) ok = EGifPutLine(gif_, &indices[static_cast<std::size_t>(y) * w], w) != GIF_ERROR;
  GifFreeMapObject(map);
  if (!ok) fail("write failed", gif_->Error);
  written_ = std::move(pending_);
  ++frames_;
  pending_.clear();
}

void GifWriter::finish() {
  write_pending();
  int error = 0;
  const int closed = EGifCloseFile(gif_, &error);
  gif_ = nullptr;
  if (closed == GIF_ERROR) fail("cannot finish", error);
}

}  // namespace flowframe::viewer
