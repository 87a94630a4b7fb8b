#pragma once
// The frame log (.ffl): header, compressed checksummed chunks of length-delimited Frame messages,
// and a footer index. Byte layout: docs/FORMAT.md. A live stream carries the same bytes.
#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "flowframe/v1/frame.pb.h"
#include "runtime/framelog/frame_record.hpp"

namespace flowframe {

// Closes on every path out, a throwing constructor's included.
struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

inline constexpr std::uint16_t kLogMajorVersion = 1;
inline constexpr std::uint16_t kLogMinorVersion = 3;  // 1: typed live changes; 2: partitions; 3: state changes

// The byte layout's framing, for the live stream (docs/FORMAT.md).
namespace framing {
inline constexpr std::size_t kFileHeaderSize = 24;   // before the LogHeader bytes
inline constexpr std::size_t kRecordHeaderSize = 64;
inline constexpr std::uint32_t kReplyMagic = 0x50524646;  // "FFRP": a control reply, live streams only
// Bytes of the whole file header (magic .. LogHeader) from its first kFileHeaderSize bytes; 0 if
// they are not a frame log's.
std::uint64_t file_header_size(const char* first_bytes);
// Magic and total size (header + payload) of a record from its first kRecordHeaderSize bytes;
// false if the header is damaged.
bool record_size(const char* header, std::uint32_t& magic, std::uint64_t& total);
// A whole record holding `payload` (uncompressed), e.g. a control reply.
std::string record(std::uint32_t magic, const std::string& payload);
}  // namespace framing

// Format 1.3 writes a node's state as its changes from the node's previous state in the chunk
// (docs/FORMAT.md): both read as varints from the front while they pair up (same lengths), and
// from the back likewise; each pair as the change of its value; the bytes in between as they are.
namespace state_changes {
// Writes the changes at `out` (room for 10 bytes per byte of `state`, plus 20) and returns their
// end; nullptr if the two have no varint in common at either end.
unsigned char* write(std::string_view base, std::string_view state, unsigned char* out);
// Appends the state `changes` make of `base`; false if they do not fit together or the state
// would pass `max_size` bytes.
bool apply(std::string_view base, std::string_view changes, std::string& out, std::size_t max_size);
}  // namespace state_changes

// Appends `message`'s bytes with maps in key order (protobuf's default is hash order): logs must
// be byte-identical run to run.
void append_deterministic(const google::protobuf::Message& message, std::string& out);

// A node's last state in a chunk: format 1.3 writes the next one as its changes from this one.
struct LastState {
  std::uint64_t chunk = 0;  // the chunk (written or read) it belongs to, numbered from 1; 0: none
  std::string bytes;
};

// A file that cannot be read as a frame log at all (wrong magic, newer major version, no header).
class LogError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Encodes frames into chunk payloads and writes chunks to a file.
class FrameLogWriter {
 public:
  FrameLogWriter(const std::string& path, const v1::LogHeader& header, int compression_level = 3);
  ~FrameLogWriter();
  FrameLogWriter(const FrameLogWriter&) = delete;
  FrameLogWriter& operator=(const FrameLogWriter&) = delete;

  // Appends one chunk; `notes` holds the text the frames' note ranges point into. Flushed before
  // returning, so a crash later leaves this chunk readable.
  void write_chunk(const v1::Keyframe* keyframe, const FrameRecord* frames, std::size_t count,
                   std::string_view notes);
  // Writes the index and trailer. Without it the log is still readable by scanning.
  void finish();

  std::uint64_t frames_written() const { return index_.frames(); }
  std::uint64_t bytes_written() const { return offset_; }
  // Bytes on disk that form whole records (safe for another thread to read and stream).
  std::uint64_t committed() const { return committed_.load(std::memory_order_acquire); }
  bool finished() const { return finished_flag_.load(std::memory_order_acquire); }

 private:
  void write_bytes(const void* data, std::size_t size);
  void add_state(std::uint32_t frame, NodeIndex node, std::string_view bytes);
  void write_record(std::uint32_t magic, const std::string& payload, std::uint32_t raw_size,
                    const v1::ChunkRef& ref, std::uint32_t flags);

  std::string path_;
  File file_;
  int level_;
  std::uint64_t offset_ = 0;
  v1::LogIndex index_;
  v1::FrameColumns columns_;
  std::string raw_;
  std::string compressed_;
  // Each node's last state in the chunk being written, as the base of the next one's change.
  std::vector<LastState> last_states_;
  std::string delta_;
  std::uint64_t chunk_number_ = 0;
  bool finished_ = false;
  std::atomic<std::uint64_t> committed_{0};
  std::atomic<bool> finished_flag_{false};
};

// One frame as read back: the message plus what the chunk context gives it.
struct FrameView {
  std::uint64_t index = 0;
  Time time = 0;  // delivery time
  Time sent = 0;
  v1::Frame frame;
};

struct DecodedChunk {
  std::size_t chunk = 0;
  bool has_keyframe = false;
  v1::Keyframe keyframe;
  std::vector<FrameView> frames;
};

// Survivable problems found while reading, by kind (Perfetto-style stats, not aborts).
struct LogHealth {
  bool complete = false;       // index and trailer present and valid
  std::uint64_t truncated_bytes = 0;  // trailing bytes that hold no complete chunk
  std::vector<std::string> problems;
  bool ok() const { return complete && problems.empty(); }
};

class FrameLogReader {
 public:
  // Throws LogError if the file is not a frame log or its major version is newer than ours.
  explicit FrameLogReader(const std::string& path);
  ~FrameLogReader();
  FrameLogReader(const FrameLogReader&) = delete;
  FrameLogReader& operator=(const FrameLogReader&) = delete;

  const v1::LogHeader& header() const { return header_; }
  std::uint16_t major_version() const { return major_; }
  std::uint16_t minor_version() const { return minor_; }
  const std::vector<v1::ChunkRef>& chunks() const { return chunks_; }
  std::uint64_t frame_count() const;
  const LogHealth& health() const { return health_; }

  // Looks for records appended since the last look (a log still being written or received).
  // Returns true if new chunks appeared. An incomplete tail is not a problem until `final`.
  bool refresh(bool final);
  // True once the index record has been seen: the log is complete.
  bool complete() const { return health_.complete; }

  // What a chunk's frames carry when read: their nodes' states (and the keyframe) too, or the
  // events only, which is what counts, traces and comparisons need and several times faster.
  enum class States { read, skip };
  // Decodes chunk `i`. A chunk whose checksum fails is reported in health() and returns false.
  bool read_chunk(std::size_t i, DecodedChunk& out, States states = States::read);
  // The chunk holding frame `index` (binary search over the index); chunks().size() if none.
  std::size_t chunk_of(std::uint64_t index) const;

 private:
  void scan_records(std::uint64_t from, bool final);
  bool load_index();
  // Why a chunk's place in the log cannot be trusted ("" if it can): sizes beyond the limits or
  // the file, frames that do not follow the chunks before it.
  std::string implausible(std::uint64_t offset, std::uint64_t payload_size, std::uint64_t raw_size,
                          std::uint64_t first_frame, std::uint64_t frame_count) const;

  std::string path_;
  File file_;
  std::uint64_t size_ = 0;
  std::uint64_t data_start_ = 0;
  std::uint64_t scanned_to_ = 0;  // records before this offset are known
  bool growing_ = false;          // refresh() was called: a log being written or received
  std::uint16_t major_ = 0;
  std::uint16_t minor_ = 0;
  v1::LogHeader header_;
  std::vector<v1::ChunkRef> chunks_;
  LogHealth health_;
  std::string buffer_;
  std::string raw_;
  v1::FrameColumns columns_;
  std::vector<LastState> last_states_;
  std::uint64_t read_number_ = 0;  // tells this read's bases from an earlier read's
};

}  // namespace flowframe
