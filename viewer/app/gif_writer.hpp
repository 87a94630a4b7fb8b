#pragma once
// An animated GIF (giflib), frame by frame: each frame is written as the rectangle that changed
// since the one before, with its own 256-colour palette (giflib's quantizer), and a frame that
// changed nothing lengthens the one before. UI pictures then take a few KB a frame.
#include <string>
#include <vector>

struct GifFileType;

namespace flowframe::viewer {

class GifWriter {
 public:
  // Throws std::runtime_error naming the path.
  GifWriter(const std::string& path, int width, int height, int fps);
  ~GifWriter();
  GifWriter(const GifWriter&) = delete;
  GifWriter& operator=(const GifWriter&) = delete;

  // width x height RGBA pixels, top row first: the next 1/fps seconds of the clip.
  void add(const std::vector<unsigned char>& rgba);
  // Writes the last frame and closes the file. Throws std::runtime_error.
  void finish();
  int frames() const { return frames_; }  // pictures written (unchanged ones merge into the one before)
  int pictures_added() const { return added_; }

 private:
  void start();  // the screen description and the loop extension
  void write_pending();
  void fail(const std::string& what, int error);

  std::string path_;
  GifFileType* gif_ = nullptr;
  int width_, height_, fps_;
  std::vector<unsigned char> written_;  // the last picture written
  std::vector<unsigned char> pending_;  // the newest picture, not written yet
  int pending_delay_cs_ = 0;
  int frames_ = 0;
  int added_ = 0;
};

}  // namespace flowframe::viewer
