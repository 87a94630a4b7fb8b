#include "runtime/framelog/frame_log.hpp"

#include "runtime/base/limits.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

namespace flowframe {
namespace {

static_assert(std::endian::native == std::endian::little, "the .ffl layout is little-endian");

constexpr unsigned char kFileMagic[8] = {0x89, 'F', 'F', 'L', '\r', '\n', 0x1A, '\n'};
constexpr unsigned char kTrailerMagic[8] = {'F', 'F', 'I', 'N', 'D', 'E', 'X', '\n'};
constexpr std::uint32_t kChunkMagic = 0x4B434646;  // "FFCK"
constexpr std::uint32_t kIndexMagic = 0x58494646;  // "FFIX"
constexpr std::uint32_t kHasKeyframe = 1;

struct FileHeader {
  unsigned char magic[8];
  std::uint16_t major;
  std::uint16_t minor;
  std::uint32_t header_size;
  std::uint64_t header_hash;
};
static_assert(sizeof(FileHeader) == 24);

struct RecordHeader {
  std::uint32_t magic;
  std::uint32_t flags;
  std::uint32_t payload_size;
  std::uint32_t raw_size;
  std::uint64_t first_frame;
  std::int64_t first_time;
  std::int64_t last_time;
  std::uint32_t frame_count;
  std::uint32_t reserved;
  std::uint64_t payload_hash;
  std::uint64_t header_hash;  // of every field above
};
static_assert(sizeof(RecordHeader) == 64);

struct Trailer {
  std::uint64_t index_offset;
  unsigned char magic[8];
};
static_assert(sizeof(Trailer) == 16);

std::uint64_t hash(const void* data, std::size_t size) { return XXH3_64bits(data, size); }
std::uint64_t header_hash(const RecordHeader& h) { return hash(&h, offsetof(RecordHeader, header_hash)); }

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

bool read_varint(const unsigned char*& p, const unsigned char* end, std::uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const unsigned char byte = *p++;
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

std::string errno_text() { return std::strerror(errno); }

std::uint64_t zigzag(std::uint64_t difference) {
  const auto signed_difference = static_cast<std::int64_t>(difference);
  return (difference << 1) ^ static_cast<std::uint64_t>(signed_difference >> 63);
}
std::uint64_t unzigzag(std::uint64_t value) { return (value >> 1) ^ (~(value & 1) + 1); }

}  // namespace

void append_deterministic(const google::protobuf::Message& message, std::string& out) {
  // Sized first, written in place: a StringOutputStream would grow `out` to its whole capacity
  // (zero-filling it) on every call, which made recording cost the size of the buffer per frame.
  const std::size_t size = message.ByteSizeLong();
  const std::size_t start = out.size();
  out.resize(start + size);
  google::protobuf::io::ArrayOutputStream array(out.data() + start, static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
}

namespace framing {

std::uint64_t file_header_size(const char* first_bytes) {
  FileHeader header;
  std::memcpy(&header, first_bytes, sizeof header);
  if (std::memcmp(header.magic, kFileMagic, sizeof kFileMagic) != 0) return 0;
  return sizeof header + header.header_size;
}

bool record_size(const char* bytes, std::uint32_t& magic, std::uint64_t& total) {
  RecordHeader header;
  std::memcpy(&header, bytes, sizeof header);
  if (header.header_hash != header_hash(header)) return false;
  magic = header.magic;
  total = sizeof header + header.payload_size;
  return true;
}

std::string record(std::uint32_t magic, const std::string& payload) {
  RecordHeader header{};
  header.magic = magic;
  header.payload_size = static_cast<std::uint32_t>(payload.size());
  header.raw_size = header.payload_size;
  header.payload_hash = hash(payload.data(), payload.size());
  header.header_hash = header_hash(header);
  std::string out(reinterpret_cast<const char*>(&header), sizeof header);
  return out + payload;
}

}  // namespace framing

namespace state_changes {
namespace {

// A varint at `p` in its shortest form (writing its value back gives the same bytes): its end, or
// nullptr.
const unsigned char* shortest_varint(const unsigned char* p, const unsigned char* end, std::uint64_t& value) {
  const auto* start = p;
  if (!read_varint(p, end, value) || (p - start > 1 && p[-1] == 0) || (p - start == 10 && p[-1] > 1)) return nullptr;
  return p;
}

// The start of the varint that ends just before `end`, not before `begin`; nullptr if none does.
const unsigned char* varint_before(const unsigned char* begin, const unsigned char* end) {
  if (end == begin || (end[-1] & 0x80)) return nullptr;
  const auto* start = end - 1;
  while (start > begin && (start[-1] & 0x80) && end - start < 10) --start;
  return start;
}

unsigned char* write_varint(unsigned char* out, std::uint64_t value) {
  for (; value >= 0x80; value >>= 7) *out++ = static_cast<unsigned char>(value | 0x80);
  *out++ = static_cast<unsigned char>(value);
  return out;
}

}  // namespace

unsigned char* write(std::string_view base, std::string_view state, unsigned char* out) {
  const auto* b = reinterpret_cast<const unsigned char*>(base.data());
  const auto* b_end = b + base.size();
  const auto* s = reinterpret_cast<const unsigned char*>(state.data());
  const auto* s_end = s + state.size();
  // The leading varints, in step while each pair has the same length; their changes go after room
  // for the two counts.
  auto* changes = out + 20;
  std::uint64_t leading = 0;
  while (s < s_end) {
    // The common case: one-byte varints unchanged, eight at a time.
    if (s_end - s >= 8 && b_end - b >= 8) {
      std::uint64_t now = 0, before = 0;
      std::memcpy(&now, s, 8);
      std::memcpy(&before, b, 8);
      if (now == before && (now & 0x8080808080808080ULL) == 0) {
        std::memset(changes, 0, 8);
        changes += 8, s += 8, b += 8, leading += 8;
        continue;
      }
    }
    std::uint64_t value = 0, was = 0;
    const auto* s_next = shortest_varint(s, s_end, value);
    const auto* b_next = b;
    if (s_next == nullptr || !read_varint(b_next, b_end, was) || s_next - s != b_next - b) break;
    changes = write_varint(changes, zigzag(value - was));
    s = s_next, b = b_next, ++leading;
  }
  // The trailing varints, the same way from the end, up to where the leading ones stopped.
  const auto* s_tail = s_end;
  const auto* b_tail = b_end;
  std::uint64_t trailing = 0;
  while (s_tail > s) {
    const auto* s_start = varint_before(s, s_tail);
    const auto* b_start = varint_before(b, b_tail);
    std::uint64_t value = 0;
    if (s_start == nullptr || b_start == nullptr || s_tail - s_start != b_tail - b_start ||
        shortest_varint(s_start, s_tail, value) != s_tail)
      break;
    s_tail = s_start, b_tail = b_start, ++trailing;
  }
  if (leading == 0 && trailing == 0) return nullptr;  // nothing in common: written whole
  for (const auto* from = s_tail; from < s_end;) {
    std::uint64_t value = 0, was = 0;
    from = shortest_varint(from, s_end, value);
    read_varint(b_tail, b_end, was);
    changes = write_varint(changes, zigzag(value - was));
  }
  // The counts first, then the changes, then the bytes in between as they are.
  auto* at = write_varint(write_varint(out, leading), trailing);
  std::memmove(at, out + 20, static_cast<std::size_t>(changes - (out + 20)));
  at += changes - (out + 20);
  std::memcpy(at, s, static_cast<std::size_t>(s_tail - s));
  return at + (s_tail - s);
}

bool apply(std::string_view base, std::string_view changes, std::string& out, std::size_t max_size) {
  const auto* b = reinterpret_cast<const unsigned char*>(base.data());
  const auto* b_end = b + base.size();
  const auto* c = reinterpret_cast<const unsigned char*>(changes.data());
  const auto* c_end = c + changes.size();
  std::uint64_t leading = 0, trailing = 0;
  if (!read_varint(c, c_end, leading) || !read_varint(c, c_end, trailing) || leading + trailing > base.size())
    return false;
  for (std::uint64_t i = 0; i < leading; ++i) {
    std::uint64_t was = 0, change = 0;
    if (!read_varint(b, b_end, was) || !read_varint(c, c_end, change) || out.size() >= max_size) return false;
    append_varint(out, was + unzigzag(change));
  }
  auto* b_tail = b_end;
  for (std::uint64_t i = 0; i < trailing; ++i)
    if ((b_tail = varint_before(b, b_tail)) == nullptr) return false;
  const auto* trailing_changes = c;
  for (std::uint64_t i = 0, change = 0; i < trailing; ++i)
    if (!read_varint(c, c_end, change)) return false;
  out.append(reinterpret_cast<const char*>(c), static_cast<std::size_t>(c_end - c));  // the bytes in between
  for (std::uint64_t i = 0; i < trailing; ++i) {
    std::uint64_t was = 0, change = 0;
    read_varint(b_tail, b_end, was);
    read_varint(trailing_changes, c_end, change);
    if (out.size() >= max_size) return false;
    append_varint(out, was + unzigzag(change));
  }
  return out.size() <= max_size;
}

}  // namespace state_changes

namespace {

std::string deterministic_bytes(const google::protobuf::Message& message) {
  std::string bytes;
  append_deterministic(message, bytes);
  return bytes;
}

}  // namespace

FrameLogWriter::FrameLogWriter(const std::string& path, const v1::LogHeader& header, int compression_level)
    : path_(path), level_(compression_level) {
  // A log replaces an older log, never anything else: `--out scenario.textproto` must not eat the
  // file being run.
  if (File existing{std::fopen(path.c_str(), "rb")}) {
    unsigned char magic[sizeof kFileMagic];
    const auto read = std::fread(magic, 1, sizeof magic, existing.get());
    if (read > 0 && (read < sizeof magic || std::memcmp(magic, kFileMagic, sizeof magic) != 0))
      throw LogError(path + ": exists and is not a frame log; FlowFrame does not overwrite it (choose another --out, or remove it)");
  }
  file_.reset(std::fopen(path.c_str(), "wb"));
  if (!file_) throw LogError(path + ": cannot write: " + errno_text());
  const std::string bytes = deterministic_bytes(header);
  FileHeader file_header{};
  std::memcpy(file_header.magic, kFileMagic, sizeof kFileMagic);
  file_header.major = kLogMajorVersion;
  file_header.minor = kLogMinorVersion;
  file_header.header_size = static_cast<std::uint32_t>(bytes.size());
  file_header.header_hash = hash(bytes.data(), bytes.size());
  write_bytes(&file_header, sizeof file_header);
  write_bytes(bytes.data(), bytes.size());
  if (std::fflush(file_.get()) != 0) throw LogError(path_ + ": write failed: " + errno_text());
  committed_.store(offset_, std::memory_order_release);
}

FrameLogWriter::~FrameLogWriter() = default;

void FrameLogWriter::write_bytes(const void* data, std::size_t size) {
  if (std::fwrite(data, 1, size, file_.get()) != size) throw LogError(path_ + ": write failed: " + errno_text());
  offset_ += size;
}

void FrameLogWriter::write_record(std::uint32_t magic, const std::string& payload, std::uint32_t raw_size,
                                  const v1::ChunkRef& ref, std::uint32_t flags) {
  RecordHeader header{};
  header.magic = magic;
  header.flags = flags;
  header.payload_size = static_cast<std::uint32_t>(payload.size());
  header.raw_size = raw_size;
  header.first_frame = ref.first_frame();
  header.first_time = ref.first_time();
  header.last_time = ref.last_time();
  header.frame_count = ref.frame_count();
  header.payload_hash = hash(payload.data(), payload.size());
  header.header_hash = header_hash(header);
  write_bytes(&header, sizeof header);
  write_bytes(payload.data(), payload.size());
}

void FrameLogWriter::write_chunk(const v1::Keyframe* keyframe, const FrameRecord* frames, std::size_t count,
                                 std::string_view notes) {
  if (count == 0 && keyframe == nullptr) return;
  if (count > limits::kChunkFrames)
    throw LogError(path_ + ": a chunk of " + std::to_string(count) + " frames, beyond the limit of " +
                   std::to_string(limits::kChunkFrames));
  raw_.clear();
  if (keyframe != nullptr) {
    const std::string bytes = deterministic_bytes(*keyframe);
    append_varint(raw_, bytes.size());
    raw_.append(bytes);
  } else {
    append_varint(raw_, 0);
  }
  // Each chunk decodes on its own: its first state of a node is written whole.
  ++chunk_number_;
  const Time first_time = count ? frames[0].key.deliver : 0;
  Time previous = first_time;
  std::uint64_t previous_request = 0;
  auto& c = columns_;
  c.Clear();
  for (auto* column : {c.mutable_src(), c.mutable_dst(), c.mutable_kind(), c.mutable_client(), c.mutable_path(),
                       c.mutable_status(), c.mutable_outcome(), c.mutable_load(), c.mutable_queue(), c.mutable_chosen()})
    column->Reserve(static_cast<int>(count));
  c.mutable_time_delta()->Reserve(static_cast<int>(count));
  c.mutable_latency()->Reserve(static_cast<int>(count));
  c.mutable_request_delta()->Reserve(static_cast<int>(count));
  c.mutable_id()->Reserve(static_cast<int>(count));
  c.mutable_partition()->Reserve(static_cast<int>(count));
  for (std::size_t i = 0; i < count; ++i) {
    const auto& record = frames[i];
    c.add_time_delta(record.key.deliver - previous);
    c.add_latency(record.key.deliver - record.sent);
    c.add_src(record.src);
    c.add_dst(record.dst);
    c.add_kind(static_cast<std::uint32_t>(record.kind));
    c.add_client(record.client);
    c.add_request_delta(static_cast<std::int64_t>(record.request - previous_request));
    previous_request = record.request;
    c.add_path(record.path);
    c.add_status(record.status);
    c.add_outcome(static_cast<std::uint32_t>(record.outcome));
    c.add_load(record.load);
    c.add_queue(record.queue);
    c.add_chosen(record.chosen == kNoNode ? 0 : record.chosen + 1);
    c.add_id(record.id);
    c.add_partition(record.partition);
    if (record.note_size || record.previous_size) {
      c.add_note_frame(static_cast<std::uint32_t>(i));
      c.add_note(std::string(notes.substr(record.note_offset, record.note_size)));
      c.add_previous(std::string(notes.substr(record.note_offset + record.note_size, record.previous_size)));
    }
    if (record.change_size) {
      c.add_change_frame(static_cast<std::uint32_t>(i));
      const auto bytes = notes.substr(record.note_offset + record.note_size + record.previous_size, record.change_size);
      c.add_change(bytes.data(), bytes.size());
    }
    if (record.state_size)
      add_state(static_cast<std::uint32_t>(i), record.dst,
                notes.substr(record.note_offset + record.note_size + record.previous_size + record.change_size,
                             record.state_size));
    previous = record.key.deliver;
  }
  append_deterministic(c, raw_);
  if (raw_.size() > limits::kChunkBytes)
    throw LogError(path_ + ": a chunk of " + std::to_string(raw_.size()) + " bytes, beyond the limit of " +
                   std::to_string(limits::kChunkBytes) + "; record with fewer frames per chunk");
  compressed_.resize(ZSTD_compressBound(raw_.size()));
  const std::size_t size = ZSTD_compress(compressed_.data(), compressed_.size(), raw_.data(), raw_.size(), level_);
  if (ZSTD_isError(size)) throw LogError(path_ + ": compression failed: " + ZSTD_getErrorName(size));
  compressed_.resize(size);

  v1::ChunkRef ref;
  ref.set_offset(offset_);
  ref.set_first_frame(index_.frames());
  ref.set_frame_count(static_cast<std::uint32_t>(count));
  ref.set_first_time(first_time);
  ref.set_last_time(count ? frames[count - 1].key.deliver : first_time);
  ref.set_has_keyframe(keyframe != nullptr);
  write_record(kChunkMagic, compressed_, static_cast<std::uint32_t>(raw_.size()), ref,
               keyframe ? kHasKeyframe : 0);
  if (std::fflush(file_.get()) != 0) throw LogError(path_ + ": write failed: " + errno_text());
  committed_.store(offset_, std::memory_order_release);
  *index_.add_chunks() = ref;
  index_.set_frames(index_.frames() + count);
  if (count) index_.set_end_time(ref.last_time());
}

void FrameLogWriter::add_state(std::uint32_t frame, NodeIndex node, std::string_view bytes) {
  if (node >= last_states_.size()) last_states_.resize(node + 1);
  auto& last = last_states_[node];
  if (delta_.size() < 10 * bytes.size() + 20) delta_.resize(10 * bytes.size() + 20);
  auto* start = reinterpret_cast<unsigned char*>(delta_.data());
  const auto* end = last.chunk == chunk_number_ ? state_changes::write(last.bytes, bytes, start) : nullptr;
  // Changes are about as long as the state (a byte per unchanged varint) but mostly zeros, which
  // compress far better; values that grew to ten bytes each would not: then whole.
  if (end != nullptr && static_cast<std::size_t>(end - start) <= 2 * bytes.size() + 8) {
    columns_.add_state_delta_frame(frame);
    columns_.add_state_delta(delta_.data(), static_cast<std::size_t>(end - start));
  } else {
    columns_.add_state_frame(frame);
    columns_.add_state(bytes.data(), bytes.size());
  }
  last.chunk = chunk_number_;
  last.bytes.assign(bytes);
}

void FrameLogWriter::finish() {
  if (finished_) return;
  finished_ = true;
  const std::uint64_t index_offset = offset_;
  const std::string payload = deterministic_bytes(index_);
  v1::ChunkRef ref;
  ref.set_first_frame(index_.frames());
  write_record(kIndexMagic, payload, static_cast<std::uint32_t>(payload.size()), ref, 0);
  Trailer trailer{};
  trailer.index_offset = index_offset;
  std::memcpy(trailer.magic, kTrailerMagic, sizeof kTrailerMagic);
  write_bytes(&trailer, sizeof trailer);
  if (std::fclose(file_.release()) != 0) throw LogError(path_ + ": write failed: " + errno_text());
  committed_.store(offset_, std::memory_order_release);
  finished_flag_.store(true, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------

FrameLogReader::FrameLogReader(const std::string& path) : path_(path) {
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) throw LogError(path + ": cannot open: " + errno_text());
  std::fseek(file_.get(), 0, SEEK_END);
  size_ = static_cast<std::uint64_t>(std::ftell(file_.get()));
  std::fseek(file_.get(), 0, SEEK_SET);

  FileHeader file_header{};
  if (std::fread(&file_header, 1, sizeof file_header, file_.get()) != sizeof file_header ||
      std::memcmp(file_header.magic, kFileMagic, sizeof kFileMagic) != 0)
    throw LogError(path + ": not a FlowFrame frame log (bad magic; expected a .ffl file from `flowframe run`)");
  major_ = file_header.major;
  minor_ = file_header.minor;
  if (major_ > kLogMajorVersion)
    throw LogError(path + ": frame log format " + std::to_string(major_) + "." + std::to_string(minor_) +
                   " is newer than this FlowFrame reads (" + std::to_string(kLogMajorVersion) + "." +
                   std::to_string(kLogMinorVersion) + "); upgrade FlowFrame");
  if (file_header.header_size > size_ - sizeof file_header)
    throw LogError(path + ": truncated inside the log header");
  if (file_header.header_size > limits::kLogHeaderBytes)
    throw LogError(path + ": the log header claims " + std::to_string(file_header.header_size) +
                   " bytes, beyond the limit of " + std::to_string(limits::kLogHeaderBytes) + " (a damaged or crafted file)");
  buffer_.resize(file_header.header_size);
  if (std::fread(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size() ||
      hash(buffer_.data(), buffer_.size()) != file_header.header_hash || !header_.ParseFromString(buffer_))
    throw LogError(path + ": the log header is corrupted (checksum mismatch)");
  data_start_ = sizeof file_header + file_header.header_size;
  scanned_to_ = data_start_;
  if (!load_index()) scan_records(data_start_, true);
}

bool FrameLogReader::refresh(bool final) {
  if (health_.complete) return false;
  growing_ = true;
  std::fseek(file_.get(), 0, SEEK_END);
  size_ = static_cast<std::uint64_t>(std::ftell(file_.get()));
  const auto before = chunks_.size();
  health_.problems.clear();
  health_.truncated_bytes = 0;
  scan_records(scanned_to_, final);
  return chunks_.size() != before;
}

FrameLogReader::~FrameLogReader() = default;

std::uint64_t FrameLogReader::frame_count() const {
  return chunks_.empty() ? 0 : chunks_.back().first_frame() + chunks_.back().frame_count();
}

bool FrameLogReader::load_index() {
  if (size_ < data_start_ + sizeof(Trailer) + sizeof(RecordHeader)) return false;
  Trailer trailer{};
  std::fseek(file_.get(), static_cast<long>(size_ - sizeof trailer), SEEK_SET);
  if (std::fread(&trailer, 1, sizeof trailer, file_.get()) != sizeof trailer ||
      std::memcmp(trailer.magic, kTrailerMagic, sizeof kTrailerMagic) != 0 || trailer.index_offset < data_start_ ||
      trailer.index_offset > size_ - sizeof trailer - sizeof(RecordHeader))
    return false;
  RecordHeader header{};
  std::fseek(file_.get(), static_cast<long>(trailer.index_offset), SEEK_SET);
  if (std::fread(&header, 1, sizeof header, file_.get()) != sizeof header || header.magic != kIndexMagic ||
      header.header_hash != header_hash(header) ||
      header.payload_size != size_ - sizeof trailer - sizeof header - trailer.index_offset)
    return false;
  buffer_.resize(header.payload_size);
  v1::LogIndex index;
  if (std::fread(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size() ||
      hash(buffer_.data(), buffer_.size()) != header.payload_hash || !index.ParseFromString(buffer_))
    return false;
  // The index is trusted only as far as the file bears it out; otherwise the chunks are found by scanning.
  for (const auto& ref : index.chunks()) {
    // An intact log's index has no gaps: each chunk starts where the one before it ended.
    if (ref.offset() > size_ - sizeof(RecordHeader) || ref.first_frame() != frame_count() ||
        !implausible(ref.offset(), 0, 0, ref.first_frame(), ref.frame_count()).empty()) {
      chunks_.clear();
      return false;
    }
    chunks_.push_back(ref);
  }
  health_.complete = true;
  return true;
}

std::string FrameLogReader::implausible(std::uint64_t offset, std::uint64_t payload_size, std::uint64_t raw_size,
                                        std::uint64_t first_frame, std::uint64_t frame_count) const {
  if (offset < data_start_ || offset + sizeof(RecordHeader) > size_ || payload_size > size_ - offset - sizeof(RecordHeader))
    return "its " + std::to_string(payload_size) + " bytes reach beyond the file";
  if (raw_size > limits::kChunkBytes)
    return "it claims " + std::to_string(raw_size) + " bytes, beyond the limit of " + std::to_string(limits::kChunkBytes);
  if (frame_count > limits::kChunkFrames)
    return "it claims " + std::to_string(frame_count) + " frames, beyond the limit of " + std::to_string(limits::kChunkFrames);
  const std::uint64_t expected = this->frame_count();
  if (first_frame < expected)
    return "its frames start at " + std::to_string(first_frame) + ", before the end of the chunk ahead of it (" +
           std::to_string(expected) + ")";
  // Damage may leave a gap of lost frames, but not more than the bytes skipped could have held
  // (a frame takes at least a byte); numbers near 2^64 would wrap the frame count.
  if (first_frame - expected > offset)
    return "its frames start at " + std::to_string(first_frame) + ", far beyond the " + std::to_string(expected) +
           " frames before it";
  return "";
}

namespace {

// The next offset at or after `from` where an intact chunk header starts, read into `header`;
// `size` if none. Reads blocks and looks for the magic in memory: probing the file byte by byte
// took half a minute over 20 MB of damage.
std::uint64_t resynchronise(std::FILE* file, std::uint64_t from, std::uint64_t size, RecordHeader& header) {
  constexpr std::size_t kBlock = 1 << 20;
  std::string block;
  const auto magic = kChunkMagic;
  for (std::uint64_t start = from; start + sizeof header <= size;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock + sizeof header, size - start));
    block.resize(want);
    std::fseek(file, static_cast<long>(start), SEEK_SET);
    if (std::fread(block.data(), 1, want, file) != want) return size;
    for (std::size_t at = 0; at + sizeof header <= want;) {
      const void* found = memmem(block.data() + at, want - at, &magic, sizeof magic);
      if (found == nullptr) break;
      at = static_cast<std::size_t>(static_cast<const char*>(found) - block.data());
      if (at + sizeof header > want) break;
      std::memcpy(&header, block.data() + at, sizeof header);
      if (header.header_hash == header_hash(header)) return start + at;
      ++at;
    }
    if (want < kBlock + sizeof header) break;
    start += kBlock;  // the next block overlaps this one by a header, so none is missed at the seam
  }
  return size;
}

}  // namespace

void FrameLogReader::scan_records(std::uint64_t offset, bool final) {
  RecordHeader header{};
  while (offset < size_) {
    scanned_to_ = offset;
    const std::uint64_t left = size_ - offset;
    std::fseek(file_.get(), static_cast<long>(offset), SEEK_SET);
    const bool whole_header = left >= sizeof header && std::fread(&header, 1, sizeof header, file_.get()) == sizeof header;
    if (!whole_header && !final) return;  // still arriving
    if (!whole_header) {
      health_.truncated_bytes = left;
      health_.problems.push_back("log cut short: the last " + std::to_string(left) +
                                 " bytes hold no complete chunk (the run did not finish writing)");
      return;
    }
    const bool intact = (header.magic == kChunkMagic || header.magic == kIndexMagic) &&
                        header.header_hash == header_hash(header);
    const bool arriving = intact && header.payload_size > size_ - offset - sizeof header;
    if (arriving && !final) return;  // still arriving
    std::string doubt;
    if (intact && !arriving && header.magic == kChunkMagic)
      doubt = implausible(offset, header.payload_size, header.raw_size, header.first_frame, header.frame_count);
    if (!intact || !doubt.empty()) {
      // Look for the next intact chunk header; everything in between is lost.
      const std::uint64_t next = resynchronise(file_.get(), offset + 1, size_, header);
      if (next >= size_) {
        health_.truncated_bytes = size_ - offset;
        health_.problems.push_back("corrupted data at byte " + std::to_string(offset) + (doubt.empty() ? "" : " (" + doubt + ")") +
                                   "; nothing readable after it");
        return;
      }
      health_.problems.push_back((doubt.empty() ? "corrupted chunk header" : "untrustworthy chunk header (" + doubt + ")") +
                                 std::string(" at byte ") + std::to_string(offset) + "; skipped " +
                                 std::to_string(next - offset) + " bytes");
      offset = next;
      continue;
    }
    if (arriving) {
      health_.truncated_bytes = size_ - offset;
      health_.problems.push_back("log cut short inside the chunk at byte " + std::to_string(offset) + " (frames " +
                                 std::to_string(header.first_frame) + "+ lost)");
      return;
    }
    if (header.magic == kIndexMagic) {
      // The end of the log: a growing log found its index; a file whose trailer failed to load, a damaged one.
      if (growing_) health_.complete = true;
      else health_.problems.push_back("the footer index is damaged; chunks were found by scanning");
      scanned_to_ = size_;
      return;
    }
    v1::ChunkRef ref;
    ref.set_offset(offset);
    ref.set_first_frame(header.first_frame);
    ref.set_frame_count(header.frame_count);
    ref.set_first_time(header.first_time);
    ref.set_last_time(header.last_time);
    ref.set_has_keyframe(header.flags & kHasKeyframe);
    chunks_.push_back(ref);
    offset += sizeof header + header.payload_size;
    scanned_to_ = offset;
  }
  if (!final) return;
  health_.problems.push_back("no footer index: the run did not finish writing this log (read up to its last complete chunk)");
}

std::size_t FrameLogReader::chunk_of(std::uint64_t index) const {
  std::size_t low = 0, high = chunks_.size();
  while (low < high) {
    const std::size_t mid = (low + high) / 2;
    if (chunks_[mid].first_frame() + chunks_[mid].frame_count() <= index) low = mid + 1;
    else high = mid;
  }
  if (low < chunks_.size() && chunks_[low].first_frame() <= index) return low;
  return chunks_.size();
}

bool FrameLogReader::read_chunk(std::size_t i, DecodedChunk& out, States states) {
  const auto& ref = chunks_.at(i);
  auto fail = [&](const std::string& what) {
    auto problem = "chunk " + std::to_string(i) + " (frames " + std::to_string(ref.first_frame()) + "-" +
                   std::to_string(ref.first_frame() + ref.frame_count()) + ", byte " + std::to_string(ref.offset()) +
                   "): " + what + "; skipped";
    // A reader may come back to a chunk (the viewer does as it seeks): one report each.
    if (std::find(health_.problems.begin(), health_.problems.end(), problem) == health_.problems.end())
      health_.problems.push_back(std::move(problem));
    return false;
  };
  RecordHeader header{};
  std::fseek(file_.get(), static_cast<long>(ref.offset()), SEEK_SET);
  if (std::fread(&header, 1, sizeof header, file_.get()) != sizeof header || header.magic != kChunkMagic ||
      header.header_hash != header_hash(header))
    return fail("corrupted chunk header");
  if (header.first_frame != ref.first_frame() || header.frame_count != ref.frame_count())
    return fail("its header disagrees with the index");
  if (header.raw_size > limits::kChunkBytes || header.payload_size > size_ - std::min(size_, ref.offset() + sizeof header))
    return fail("its sizes are beyond the file or the limit of " + std::to_string(limits::kChunkBytes) + " bytes");
  buffer_.resize(header.payload_size);
  if (std::fread(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size()) return fail("cut short");
  if (hash(buffer_.data(), buffer_.size()) != header.payload_hash) return fail("checksum mismatch (corrupted)");
  raw_.resize(header.raw_size);
  const std::size_t size = ZSTD_decompress(raw_.data(), raw_.size(), buffer_.data(), buffer_.size());
  if (ZSTD_isError(size) || size != raw_.size()) return fail("does not decompress");

  out.chunk = i;
  out.frames.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(raw_.data());
  const auto* end = p + raw_.size();
  std::uint64_t length = 0;
  if (!read_varint(p, end, length) || length > static_cast<std::uint64_t>(end - p)) return fail("bad keyframe");
  out.has_keyframe = length > 0 && states == States::read;
  if (!out.has_keyframe) out.keyframe.Clear();
  else if (!out.keyframe.ParseFromArray(p, static_cast<int>(length))) return fail("bad keyframe");
  p += length;
  auto& c = columns_;
  if (!c.ParseFromArray(p, static_cast<int>(end - p))) return fail("bad frames");
  const int n = c.time_delta_size();
  for (int size : {c.latency_size(), c.src_size(), c.dst_size(), c.kind_size(), c.client_size(), c.request_delta_size(),
                   c.path_size(), c.status_size(), c.outcome_size(), c.load_size(), c.queue_size(), c.chosen_size(),
                   c.id_size()})
    if (size != n) return fail("frame columns of different lengths");
  const bool has_partitions = c.partition_size() == n;  // logs of format 1.1 have none
  if (!has_partitions && c.partition_size() != 0) return fail("frame columns of different lengths");
  if (c.note_size() != c.note_frame_size() || c.previous_size() != c.note_frame_size()) return fail("bad notes");
  if (static_cast<std::uint64_t>(n) != header.frame_count) return fail("frame count mismatch");
  // Every index a frame holds is checked against the header, so readers may use it as is.
  const auto nodes = static_cast<std::uint32_t>(header_.nodes_size());
  const auto paths = static_cast<std::uint32_t>(header_.paths_size());
  for (int i = 0; i < n; ++i) {
    const auto at = [&](const char* what, std::uint64_t value, std::uint64_t bound) {
      return "frame " + std::to_string(header.first_frame + static_cast<std::uint64_t>(i)) + " names " + what + " " +
             std::to_string(value) + "; the log has " + std::to_string(bound);
    };
    if (c.src(i) >= nodes) return fail(at("node", c.src(i), nodes));
    if (c.dst(i) >= nodes) return fail(at("node", c.dst(i), nodes));
    if (c.client(i) >= nodes) return fail(at("client node", c.client(i), nodes));
    if (c.chosen(i) > nodes) return fail(at("chosen node", c.chosen(i) - 1, nodes));
    if (c.path(i) >= std::max(paths, 1u)) return fail(at("path", c.path(i), paths));
    if (!v1::Frame::Kind_IsValid(static_cast<int>(c.kind(i)))) return fail(at("kind", c.kind(i), v1::Frame::Kind_ARRAYSIZE));
    if (!v1::Frame::Outcome_IsValid(static_cast<int>(c.outcome(i))))
      return fail(at("outcome", c.outcome(i), v1::Frame::Outcome_ARRAYSIZE));
  }
  out.frames.resize(static_cast<std::size_t>(n));
  Time time = header.first_time;
  std::uint64_t request = 0;
  for (int i = 0; i < n; ++i) {
    auto& view = out.frames[static_cast<std::size_t>(i)];
    auto& f = view.frame;
    f.Clear();
    f.set_time_delta(c.time_delta(i));
    f.set_latency(c.latency(i));
    f.set_src(c.src(i));
    f.set_dst(c.dst(i));
    f.set_kind(static_cast<v1::Frame::Kind>(c.kind(i)));
    f.set_client(c.client(i));
    request += static_cast<std::uint64_t>(c.request_delta(i));
    f.set_request(request);
    f.set_path(c.path(i));
    f.set_status(c.status(i));
    f.set_outcome(static_cast<v1::Frame::Outcome>(c.outcome(i)));
    f.set_load(c.load(i));
    f.set_queue(c.queue(i));
    f.set_chosen(c.chosen(i));
    f.set_id(c.id(i));
    if (has_partitions) f.set_partition(c.partition(i));
    time += c.time_delta(i);
    view.index = header.first_frame + static_cast<std::uint64_t>(i);
    view.time = time;
    view.sent = time - c.latency(i);
  }
  for (int k = 0; k < c.note_frame_size(); ++k) {
    if (c.note_frame(k) >= static_cast<std::uint32_t>(n)) return fail("bad notes");
    auto& f = out.frames[c.note_frame(k)].frame;
    f.set_note(c.note(k));
    f.set_previous(c.previous(k));
  }
  if (c.change_size() != c.change_frame_size()) return fail("bad changes");
  for (int k = 0; k < c.change_frame_size(); ++k) {
    if (c.change_frame(k) >= static_cast<std::uint32_t>(n)) return fail("bad changes");
    if (!out.frames[c.change_frame(k)].frame.mutable_change()->ParseFromString(c.change(k))) return fail("bad change");
  }
  if (c.state_size() != c.state_frame_size() || c.state_delta_size() != c.state_delta_frame_size()) return fail("bad states");
  if (states == States::skip) return true;
  // Whole states and changes interleave by frame; a change applies to its node's state before it.
  ++read_number_;
  std::string bytes;
  for (int whole = 0, changed = 0; whole < c.state_frame_size() || changed < c.state_delta_frame_size();) {
    const bool is_whole = changed == c.state_delta_frame_size() ||
                          (whole < c.state_frame_size() && c.state_frame(whole) < c.state_delta_frame(changed));
    const std::uint32_t row = is_whole ? c.state_frame(whole) : c.state_delta_frame(changed);
    if (row >= static_cast<std::uint32_t>(n)) return fail("bad states");
    const std::uint32_t node = c.dst(static_cast<int>(row));
    if (node >= last_states_.size()) last_states_.resize(node + 1);
    auto& last = last_states_[node];
    if (is_whole) {
      last.bytes = c.state(whole++);
    } else {
      bytes.clear();
      // Changes can make each value up to ten bytes long: a state is held to what a chunk may hold.
      if (last.chunk != read_number_ ||
          !state_changes::apply(last.bytes, c.state_delta(changed++), bytes, std::max<std::size_t>(header.raw_size, 1 << 16)))
        return fail("a state change that does not fit the state before it at frame " + std::to_string(row));
      std::swap(last.bytes, bytes);
    }
    last.chunk = read_number_;
    if (!out.frames[row].frame.mutable_state()->ParseFromString(last.bytes)) return fail("bad state");
  }
  return true;
}

}  // namespace flowframe
