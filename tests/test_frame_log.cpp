// Frame log: round trip, seeking, and damaged files (truncated, corrupted, newer, not a log).
#include <gtest/gtest.h>

#include <xxhash.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <random>

#include "runtime/framelog/request_tracker.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

v1::LogHeader sample_header() {
  v1::LogHeader header;
  header.set_flowframe_version("test");
  header.set_seed(5);
  for (const char* id : {"scenario", "a", "b", "c"}) {
    auto& node = *header.add_nodes();
    node.set_index(static_cast<std::uint32_t>(header.nodes_size() - 1));
    node.set_id(id);
  }
  header.add_paths("/x");
  return header;
}

std::vector<FrameRecord> sample_frames(std::size_t count) {
  std::vector<FrameRecord> frames;
  Time time = 1000;
  for (std::size_t i = 0; i < count; ++i) {
    time += static_cast<Time>(i % 7) * 1000;  // equal times too
    FrameRecord f{};
    f.key = {time, i};
    f.sent = time - 500 - static_cast<Time>(i % 3);
    f.request = i * 3 + 1;
    f.src = static_cast<NodeIndex>(1 + i % 3);
    f.dst = static_cast<NodeIndex>(1 + (i + 1) % 3);
    f.client = 1;
    f.chosen = i % 4 == 0 ? kNoNode : static_cast<NodeIndex>(i % 3);
    f.path = 0;
    f.load = static_cast<std::uint32_t>(i % 5);
    f.queue = static_cast<std::uint32_t>(i % 2);
    f.status = i % 10 == 0 ? 503 : 200;
    f.kind = i % 50 == 49 ? EventKind::control : static_cast<EventKind>(i % 3);
    f.outcome = static_cast<Outcome>(i % 11);
    if (f.kind == EventKind::control) {
      f.note_offset = 0;  // "health b down" + previous "up" in the notes below
      f.note_size = 13;
      f.previous_size = 2;
    }
    f.id = i % 9;
    frames.push_back(f);
  }
  return frames;
}

TEST(FrameLog, RoundTripEveryField) {
  test::TempPath path(".ffl");
  const auto header = sample_header();
  const auto frames = sample_frames(1000);
  const std::string notes = "health b downup";
  v1::Keyframe keyframe;
  keyframe.add_nodes()->set_node(3);
  {
    FrameLogWriter writer(path.str(), header);
    writer.write_chunk(&keyframe, frames.data(), 400, notes);
    writer.write_chunk(nullptr, frames.data() + 400, 600, notes);
    writer.finish();
  }
  FrameLogReader reader(path.str());
  EXPECT_TRUE(reader.health().ok());
  EXPECT_EQ(reader.header().SerializeAsString(), header.SerializeAsString());
  ASSERT_EQ(reader.chunks().size(), 2u);
  EXPECT_EQ(reader.frame_count(), 1000u);
  const auto read = test::read_frames(path.str());
  ASSERT_EQ(read.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& want = frames[i];
    const auto& got = read[i];
    ASSERT_EQ(got.index, i);
    EXPECT_EQ(got.time, want.key.deliver);
    EXPECT_EQ(got.sent, want.sent);
    EXPECT_EQ(got.frame.src(), want.src);
    EXPECT_EQ(got.frame.dst(), want.dst);
    EXPECT_EQ(got.frame.request(), want.request);
    EXPECT_EQ(got.frame.client(), want.client);
    EXPECT_EQ(got.frame.chosen(), want.chosen == kNoNode ? 0 : want.chosen + 1);
    EXPECT_EQ(got.frame.load(), want.load);
    EXPECT_EQ(got.frame.queue(), want.queue);
    EXPECT_EQ(got.frame.status(), want.status);
    EXPECT_EQ(got.frame.id(), want.id);
    EXPECT_EQ(static_cast<int>(got.frame.kind()), static_cast<int>(want.kind));
    EXPECT_EQ(static_cast<int>(got.frame.outcome()), static_cast<int>(want.outcome));
    if (want.kind == EventKind::control) {
      EXPECT_EQ(got.frame.note(), "health b down");
      EXPECT_EQ(got.frame.previous(), "up");
    }
  }
  DecodedChunk chunk;
  ASSERT_TRUE(reader.read_chunk(0, chunk));
  ASSERT_TRUE(chunk.has_keyframe);
  EXPECT_EQ(chunk.keyframe.nodes(0).node(), 3u);
  ASSERT_TRUE(reader.read_chunk(1, chunk));
  EXPECT_FALSE(chunk.has_keyframe);
}

// A log from a real run, in many chunks.
class RecordedLog : public ::testing::Test {
 protected:
  void SetUp() override {
    RunOptions options;
    options.out_path = path_.str();
    options.chunk_frames = 300;
    test::run_scenario("load_balancing", {"stop.requests=600"}, options);
    bytes_ = test::read_file(path_.str());
    frames_ = test::read_frames(path_.str());
    FrameLogReader reader(path_.str());
    chunks_ = reader.chunks();
  }
  test::TempPath path_{".ffl"};
  std::string bytes_;
  std::vector<FrameView> frames_;
  std::vector<v1::ChunkRef> chunks_;
};

TEST_F(RecordedLog, SeekToAFrameInTheMiddle) {
  ASSERT_GT(chunks_.size(), 5u);
  FrameLogReader reader(path_.str());
  for (std::uint64_t target : {std::uint64_t{0}, frames_.size() / 2, frames_.size() / 3 + 1, frames_.size() - 1}) {
    const auto chunk_index = reader.chunk_of(target);
    ASSERT_LT(chunk_index, reader.chunks().size());
    DecodedChunk chunk;
    ASSERT_TRUE(reader.read_chunk(chunk_index, chunk));
    const auto& view = chunk.frames.at(target - chunk.frames.front().index);
    EXPECT_EQ(view.index, target);
    EXPECT_EQ(view.time, frames_[target].time);
    EXPECT_EQ(view.frame.SerializeAsString(), frames_[target].frame.SerializeAsString());
    EXPECT_TRUE(chunk.has_keyframe);  // few nodes: every chunk starts with one
  }
  EXPECT_EQ(reader.chunk_of(frames_.size()), reader.chunks().size());
}

TEST_F(RecordedLog, TruncatedAtRandomBytesReadsUpToLastCompleteChunk) {
  std::mt19937_64 random(11);  // only picks cut points; the assertions do not depend on them
  const std::uint64_t data_start = chunks_.front().offset();
  for (int trial = 0; trial < 40; ++trial) {
    const auto cut = data_start + random() % (bytes_.size() - data_start);
    test::TempPath cut_path(".ffl");
    test::write_file(cut_path.str(), bytes_.substr(0, cut));
    FrameLogReader reader(cut_path.str());
    std::uint64_t index_offset;  // from the trailer: the last chunk ends where the index starts
    std::memcpy(&index_offset, bytes_.data() + bytes_.size() - 16, sizeof index_offset);
    std::size_t complete = 0;
    for (std::size_t i = 0; i < chunks_.size(); ++i) {
      const auto end = i + 1 < chunks_.size() ? chunks_[i + 1].offset() : index_offset;
      if (end <= cut) complete = i + 1;
    }
    EXPECT_EQ(reader.chunks().size(), complete) << "cut at " << cut;
    EXPECT_FALSE(reader.health().ok());
    EXPECT_FALSE(reader.health().problems.empty());
    const auto read = test::read_frames(cut_path.str());
    ASSERT_LE(read.size(), frames_.size());
    for (std::size_t i = 0; i < read.size(); ++i) EXPECT_EQ(read[i].time, frames_[i].time);
  }
  // A cut inside the file header is not a log at all.
  test::TempPath tiny(".ffl");
  test::write_file(tiny.str(), bytes_.substr(0, 20));
  EXPECT_THROW(FrameLogReader{tiny.str()}, LogError);
}

TEST_F(RecordedLog, FlippedByteIsDetectedAndOnlyThatChunkIsLost) {
  auto damaged = bytes_;
  const auto target = chunks_[2].offset() + 64 + 10;  // inside chunk 2's payload
  damaged[target] = static_cast<char>(damaged[target] ^ 0x20);
  test::TempPath path(".ffl");
  test::write_file(path.str(), damaged);
  FrameLogReader reader(path.str());
  DecodedChunk chunk;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i) EXPECT_EQ(reader.read_chunk(i, chunk), i != 2) << i;
  ASSERT_EQ(reader.health().problems.size(), 1u);
  EXPECT_NE(reader.health().problems[0].find("chunk 2"), std::string::npos);
  EXPECT_NE(reader.health().problems[0].find("checksum mismatch"), std::string::npos);
}

TEST_F(RecordedLog, CorruptedChunkHeaderIsSkippedWhenScanning) {
  // Cut off the index so the reader must scan, then damage chunk 1's header.
  auto damaged = bytes_.substr(0, chunks_.back().offset());
  damaged[chunks_[1].offset() + 4] ^= 0x01;
  test::TempPath path(".ffl");
  test::write_file(path.str(), damaged);
  FrameLogReader reader(path.str());
  ASSERT_EQ(reader.chunks().size(), chunks_.size() - 2);  // chunk 1 and the cut last one
  EXPECT_EQ(reader.chunks()[1].first_frame(), chunks_[2].first_frame());
  EXPECT_NE(reader.health().problems.at(0).find("corrupted chunk header"), std::string::npos);
}

TEST_F(RecordedLog, NewerMajorVersionIsRefused) {
  auto newer = bytes_;
  newer[8] = 2;  // major version, little-endian u16 after the 8-byte magic
  test::TempPath path(".ffl");
  test::write_file(path.str(), newer);
  try {
    FrameLogReader reader(path.str());
    FAIL() << "a newer major version was accepted";
  } catch (const LogError& error) {
    const auto minor = std::to_string(kLogMinorVersion);
    EXPECT_NE(std::string(error.what()).find("format 2." + minor + " is newer than this FlowFrame reads (1." + minor + ")"),
              std::string::npos)
        << error.what();
  }
}

TEST(FrameLog, NotALogGetsAClearMessage) {
  test::TempPath path(".ffl");
  test::write_file(path.str(), "name: \"this is a scenario, not a log\"\n");
  try {
    FrameLogReader reader(path.str());
    FAIL();
  } catch (const LogError& error) {
    EXPECT_NE(std::string(error.what()).find("not a FlowFrame frame log"), std::string::npos);
  }
}

// Crafting, not accidents: a file whose checksums are right but whose contents lie.
// Record header fields (docs/FORMAT.md): payload_size at byte 8, raw_size at 12, header hash at 56.
void rehash_record_header(std::string& bytes, std::uint64_t offset) {
  const std::uint64_t hash = XXH3_64bits(bytes.data() + offset, 56);
  std::memcpy(bytes.data() + offset + 56, &hash, sizeof hash);
}

// Decodes chunk `offset`'s frame columns, lets `edit` change them, and writes the chunk back
// with every size and checksum made right again (the chunk's length must not change: the edit
// keeps varint sizes).
void rewrite_columns(std::string& bytes, std::uint64_t offset, const std::function<void(v1::FrameColumns&)>& edit) {
  std::uint32_t payload_size, raw_size;
  std::memcpy(&payload_size, bytes.data() + offset + 8, 4);
  std::memcpy(&raw_size, bytes.data() + offset + 12, 4);
  std::string raw(raw_size, '\0');
  ASSERT_EQ(ZSTD_decompress(raw.data(), raw.size(), bytes.data() + offset + 64, payload_size), raw.size());
  std::size_t varint_bytes = 0;
  std::uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<unsigned char>(raw[varint_bytes++]);
    length |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) break;
  }
  const auto keyframe_length = static_cast<int>(varint_bytes + length);
  v1::FrameColumns columns;
  ASSERT_TRUE(columns.ParseFromArray(raw.data() + keyframe_length, static_cast<int>(raw.size()) - keyframe_length));
  edit(columns);
  raw = raw.substr(0, static_cast<std::size_t>(keyframe_length)) + columns.SerializeAsString();
  std::string compressed(ZSTD_compressBound(raw.size()), '\0');
  compressed.resize(ZSTD_compress(compressed.data(), compressed.size(), raw.data(), raw.size(), 3));
  const auto new_payload = static_cast<std::uint32_t>(compressed.size()), new_raw = static_cast<std::uint32_t>(raw.size());
  std::memcpy(bytes.data() + offset + 8, &new_payload, 4);
  std::memcpy(bytes.data() + offset + 12, &new_raw, 4);
  const std::uint64_t payload_hash = XXH3_64bits(compressed.data(), compressed.size());
  std::memcpy(bytes.data() + offset + 48, &payload_hash, 8);
  rehash_record_header(bytes, offset);
  bytes = bytes.substr(0, offset + 64) + compressed + bytes.substr(offset + 64 + payload_size);
}

TEST_F(RecordedLog, AChunkClaimingGigabytesIsRefusedBeforeAnythingIsAllocated) {
  auto crafted = bytes_;
  const std::uint32_t huge = 0xFFFFFFF0;
  std::memcpy(crafted.data() + chunks_[1].offset() + 12, &huge, 4);  // raw_size
  rehash_record_header(crafted, chunks_[1].offset());
  test::TempPath path(".ffl");
  test::write_file(path.str(), crafted);
  FrameLogReader reader(path.str());
  DecodedChunk chunk;
  EXPECT_TRUE(reader.read_chunk(0, chunk));
  EXPECT_FALSE(reader.read_chunk(1, chunk));
  EXPECT_TRUE(reader.read_chunk(2, chunk));
  ASSERT_EQ(reader.health().problems.size(), 1u);
  EXPECT_NE(reader.health().problems[0].find("beyond the file or the limit"), std::string::npos) << reader.health().problems[0];

  // The same claim met while scanning (no index): the chunk is skipped, the ones after it are read.
  auto scanned = crafted.substr(0, chunks_.back().offset());
  test::write_file(path.str(), scanned);
  FrameLogReader scanner(path.str());
  EXPECT_EQ(scanner.chunks().size(), chunks_.size() - 2);
  EXPECT_NE(scanner.health().problems.at(0).find("beyond the limit of"), std::string::npos) << scanner.health().problems[0];
}

TEST_F(RecordedLog, AFrameNamingANodeTheHeaderDoesNotHaveIsReportedAndItsChunkSkipped) {
  const auto nodes = FrameLogReader(path_.str()).header().nodes_size();
  for (const auto& [column, expected] : std::vector<std::pair<int, std::string>>{
           {0, "names node 99"}, {1, "names client node 99"}, {2, "names path 99"}, {3, "names outcome 99"}}) {
    // Without its index (the rewritten chunk changes length), so the reader scans.
    auto crafted = bytes_.substr(0, chunks_.back().offset());
    rewrite_columns(crafted, chunks_[1].offset(), [column = column](v1::FrameColumns& c) {
      if (column == 0) c.set_dst(7, 99);
      if (column == 1) c.set_client(7, 99);
      if (column == 2) c.set_path(7, 99);
      if (column == 3) c.set_outcome(7, 99);
    });
    test::TempPath path(".ffl");
    test::write_file(path.str(), crafted);
    FrameLogReader reader(path.str());
    DecodedChunk chunk;
    EXPECT_FALSE(reader.read_chunk(1, chunk));
    ASSERT_EQ(reader.health().problems.size(), 2u);  // the missing index, then the chunk
    const auto& problem = reader.health().problems[1];
    EXPECT_NE(problem.find("frame " + std::to_string(chunks_[1].first_frame() + 7) + " " + expected), std::string::npos) << problem;
    if (column < 2) {
      EXPECT_NE(problem.find("the log has " + std::to_string(nodes)), std::string::npos) << problem;
    }
    // Every other chunk still reads.
    EXPECT_TRUE(reader.read_chunk(2, chunk));
  }
}

TEST_F(RecordedLog, StatesAreWrittenAsChangesAndReadBackWhole) {
  // Recorded in full detail (a small scenario): every frame has its node's state, and past each
  // node's first state in a chunk they travel as changes.
  int whole = 0, changed = 0;
  auto copy = bytes_.substr(0, chunks_.back().offset());
  rewrite_columns(copy, chunks_[1].offset(), [&](v1::FrameColumns& c) {
    whole = c.state_size();
    changed = c.state_delta_size();
  });
  EXPECT_GT(changed, 4 * whole);
  for (const auto& view : frames_) ASSERT_TRUE(view.frame.has_state()) << "frame " << view.index;
  // A change read back is the very state taken at that frame: the log reads the same as one
  // written with whole states only (the reader's keyframe + frames check is in test_view_model).
  FrameLogReader reader(path_.str());
  DecodedChunk chunk;
  ASSERT_TRUE(reader.read_chunk(1, chunk));
  v1::FrameColumns only_whole;
  std::vector<FrameRecord> records;
  std::string notes;
  for (const auto& view : chunk.frames) {
    FrameRecord record{};
    record.key = {view.time, view.index};
    record.sent = view.sent;
    record.src = view.frame.src();
    record.dst = view.frame.dst();
    record.client = view.frame.client();
    record.chosen = kNoNode;
    record.note_offset = static_cast<std::uint32_t>(notes.size());
    const auto before = notes.size();
    append_deterministic(view.frame.state(), notes);
    record.state_size = static_cast<std::uint32_t>(notes.size() - before);
    records.push_back(record);
  }
  test::TempPath again(".ffl");
  {
    FrameLogWriter writer(again.str(), reader.header());
    writer.write_chunk(nullptr, records.data(), records.size(), notes);
    writer.finish();
  }
  const auto reread = test::read_frames(again.str());
  ASSERT_EQ(reread.size(), chunk.frames.size());
  for (std::size_t i = 0; i < reread.size(); ++i)
    EXPECT_EQ(reread[i].frame.state().SerializeAsString(), chunk.frames[i].frame.state().SerializeAsString()) << i;
}

TEST_F(RecordedLog, AStateChangeThatDoesNotFitIsReportedAndItsChunkSkipped) {
  // (A change that fits but is not the one written reads as another state: the checksums guard
  // against accidents, the schema against what a state may hold.)
  for (int damage = 0; damage < 3; ++damage) {
    auto crafted = bytes_.substr(0, chunks_.back().offset());
    rewrite_columns(crafted, chunks_[1].offset(), [damage](v1::FrameColumns& c) {
      if (damage == 0) {  // changes with no whole state before them
        c.clear_state();
        c.clear_state_frame();
      }
      if (damage == 1) c.set_state_delta(0, std::string("\x7f\x7f", 2));  // more varints than the state before
      if (damage == 2) c.set_state_delta(0, std::string("\x01", 1));       // cut short
    });
    test::TempPath path(".ffl");
    test::write_file(path.str(), crafted);
    FrameLogReader reader(path.str());
    DecodedChunk chunk;
    EXPECT_FALSE(reader.read_chunk(1, chunk)) << damage;
    ASSERT_EQ(reader.health().problems.size(), 2u);  // the missing index, then the chunk
    EXPECT_NE(reader.health().problems[1].find("a state change that does not fit the state before it at frame"),
              std::string::npos)
        << reader.health().problems[1];
    EXPECT_TRUE(reader.read_chunk(2, chunk));
  }
}

TEST(FrameLog, StateChangesRebuildTheStateExactlyOrDeclineToBeWritten) {
  auto bytes_of = [](const v1::NodeState& state) {
    std::string bytes;
    append_deterministic(state, bytes);
    return bytes;
  };
  auto changes_of = [](const std::string& base, const std::string& state) -> std::optional<std::string> {
    std::string out(10 * state.size() + 1, '\0');
    auto* start = reinterpret_cast<unsigned char*>(out.data());
    const auto* end = state_changes::write(base, state, start);
    if (end == nullptr) return std::nullopt;
    out.resize(static_cast<std::size_t>(end - start));
    return out;
  };
  std::mt19937_64 random(11);
  int written = 0;
  for (int i = 0; i < 2000; ++i) {
    // Two states of one node: the same fields set, values near and far (counters, times, flags).
    v1::NodeState a;
    a.set_node(3);
    a.set_load(1 + random() % 3);
    a.set_handled(1000 + random() % (1u << 30));
    a.mutable_server()->set_busy_ns(1 + random() % (1ULL << (random() % 63)));
    a.mutable_server()->set_accounted_ns(-1 - static_cast<std::int64_t>(random() % 1000));  // ten-byte varints
    a.mutable_client()->set_ip("10.0.0.1");
    v1::NodeState b = a;
    b.set_load(1 + random() % 3);
    b.set_handled(a.handled() + random() % (i % 2 ? 3 : 1u << 20));
    b.mutable_server()->set_busy_ns(a.server().busy_ns() + random() % 100000);
    b.mutable_server()->set_accounted_ns(a.server().accounted_ns() - static_cast<std::int64_t>(random() % 5));
    if (i % 3 == 0) b.mutable_client()->set_ip("10.0.0." + std::to_string(random() % 300));
    const auto base = bytes_of(a), state = bytes_of(b);
    const auto changes = changes_of(base, state);
    if (!changes) continue;  // a value changed its size: written whole
    ++written;
    std::string rebuilt;
    ASSERT_TRUE(state_changes::apply(base, *changes, rebuilt, 1 << 16));
    ASSERT_EQ(rebuilt, state) << i;
  }
  EXPECT_GT(written, 500);
  // A field that appears (proto3 leaves out zeros) or a varint not in its shortest form falls
  // between the varints that pair up at either end, and is carried as it is.
  v1::NodeState before, after;
  before.set_node(2);
  before.set_handled(7);
  before.mutable_server()->set_busy_ns(123456789);
  after = before;
  after.set_queue(3);
  after.set_handled(8);
  after.mutable_server()->set_busy_ns(123456999);
  for (const auto& [base, state] : std::vector<std::pair<std::string, std::string>>{
           {bytes_of(before), bytes_of(after)},
           {bytes_of(after), bytes_of(before)},
           {std::string("\x10\x01\x18\x05", 4), std::string("\x10\x01\x81\x00\x18\x06", 6)}}) {
    const auto changes = changes_of(base, state);
    ASSERT_TRUE(changes);
    std::string rebuilt;
    ASSERT_TRUE(state_changes::apply(base, *changes, rebuilt, 1 << 16));
    EXPECT_EQ(rebuilt, state);
  }
  // Nothing in common: written whole.
  v1::NodeState empty;
  EXPECT_FALSE(changes_of(bytes_of(empty), bytes_of(after)));
  // Refused when applied: counts beyond the base, changes cut short.
  std::string out;
  EXPECT_FALSE(state_changes::apply(std::string("\x10\x01", 2), std::string("\x02\x01\x00\x00\x00", 5), out, 1 << 16));
  EXPECT_FALSE(state_changes::apply(std::string("\x10\x01", 2), std::string("\x02\x00\x00", 3), out, 1 << 16));
  EXPECT_FALSE(state_changes::apply(std::string("\x10\x01", 2), std::string("\x02", 1), out, 1 << 16));
  // Changes that would blow a state up past the limit (each byte can make a ten-byte value).
  out.clear();
  EXPECT_FALSE(state_changes::apply(std::string(1000, '\x01'), std::string("\x84\x07\x00", 3) + std::string(900, '\x03'), out, 2000));
  out.clear();
  EXPECT_TRUE(state_changes::apply(std::string("\x10\x01", 2), std::string("\x02\x00\x00\x02", 4), out, 1 << 16));
  EXPECT_EQ(out, std::string("\x10\x02", 2));
}

TEST_F(RecordedLog, ADamagedChunkIsReportedOnceHoweverOftenItIsRead) {
  auto damaged = bytes_;
  damaged[chunks_[2].offset() + 64 + 10] ^= 0x20;
  test::TempPath path(".ffl");
  test::write_file(path.str(), damaged);
  FrameLogReader reader(path.str());
  DecodedChunk chunk;
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(reader.read_chunk(2, chunk));
  EXPECT_EQ(reader.health().problems.size(), 1u);
}

TEST_F(RecordedLog, ScanningFindsTheNextChunkAcrossMegabytesOfGarbage) {
  // 3 MiB of noise between chunk 1 and chunk 2, crossing the reader's 1 MiB blocks; no index.
  std::mt19937_64 random(3);
  std::string garbage(3 << 20, '\0');
  for (auto& byte : garbage) byte = static_cast<char>(random());
  const auto damaged = bytes_.substr(0, chunks_[2].offset()) + garbage +
                       bytes_.substr(chunks_[2].offset(), chunks_.back().offset() - chunks_[2].offset());
  test::TempPath path(".ffl");
  test::write_file(path.str(), damaged);
  FrameLogReader reader(path.str());
  ASSERT_EQ(reader.chunks().size(), chunks_.size() - 1);  // all but the cut last one
  EXPECT_EQ(reader.chunks()[2].first_frame(), chunks_[2].first_frame());
  EXPECT_NE(reader.health().problems.at(0).find("skipped " + std::to_string(garbage.size()) + " bytes"), std::string::npos)
      << reader.health().problems.at(0);
  DecodedChunk chunk;
  EXPECT_TRUE(reader.read_chunk(reader.chunks().size() - 1, chunk));
}

TEST(FrameLog, FailedOpensLeaveNoFileDescriptorBehind) {
  test::TempPath path(".ffl");
  test::write_file(path.str(), "not a log at all, but long enough to be read as one's header");
  const auto open_descriptors = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator{});
  };
  const auto before = open_descriptors();
  for (int i = 0; i < 200; ++i) EXPECT_THROW(FrameLogReader{path.str()}, LogError);
  EXPECT_EQ(open_descriptors(), before);
}

// Reading without states gives the same frames, events only: what counts and comparisons read.
TEST(FrameLog, ReadingWithoutStatesGivesTheSameFramesWithoutTheirStates) {
  test::TempPath path(".ffl");
  RunOptions options;
  options.out_path = path.str();
  options.chunk_frames = 20;
  test::run_scenario("load_balancing", {}, options);
  FrameLogReader reader(path.str());
  ASSERT_GT(reader.chunks().size(), 2u);
  DecodedChunk whole, events;
  std::size_t states = 0;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i) {
    // Into a chunk that held states and a keyframe before: nothing of them may stay.
    ASSERT_TRUE(reader.read_chunk(reader.chunks().size() - 1 - i, events));
    ASSERT_TRUE(reader.read_chunk(i, events, FrameLogReader::States::skip));
    ASSERT_TRUE(reader.read_chunk(i, whole));
    EXPECT_FALSE(events.has_keyframe);
    ASSERT_EQ(events.frames.size(), whole.frames.size());
    for (std::size_t k = 0; k < whole.frames.size(); ++k) {
      const auto& a = events.frames[k];
      auto b = whole.frames[k];
      states += b.frame.has_state();
      EXPECT_FALSE(a.frame.has_state());
      b.frame.clear_state();
      EXPECT_EQ(a.index, b.index);
      EXPECT_EQ(a.time, b.time);
      EXPECT_EQ(a.sent, b.sent);
      EXPECT_EQ(a.frame.SerializeAsString(), b.frame.SerializeAsString()) << "frame " << a.index;
    }
  }
  EXPECT_GT(states, 0u);
}

// A request's latency runs from its earliest attempt seen leaving its client, even when a retry
// is delivered before a slower first attempt; only a node of kind CLIENT starts one.
TEST(RequestTracker, CountsFromTheEarliestAttemptToTheFrameThatConcludesIt) {
  v1::LogHeader header;
  for (auto kind : {v1::Node::KIND_UNSPECIFIED, v1::Node::CLIENT, v1::Node::SERVER}) {
    auto& node = *header.add_nodes();
    node.set_index(static_cast<std::uint32_t>(header.nodes_size() - 1));
    node.set_kind(kind);
  }
  auto view = [](Time sent, Time time, std::uint32_t src, std::uint32_t dst, v1::Frame::Kind kind, std::uint64_t request = 5) {
    FrameView v;
    v.sent = sent;
    v.time = time;
    v.frame.set_src(src);
    v.frame.set_dst(dst);
    v.frame.set_client(1);
    v.frame.set_request(request);
    v.frame.set_kind(kind);
    v.frame.set_outcome(v1::Frame::COMPLETED);
    v.frame.set_status(200);
    return v;
  };
  RequestTracker<int> requests(header);
  auto seen = requests.see(view(200, 250, 1, 2, v1::Frame::REQUEST));  // the retry, delivered first
  EXPECT_TRUE(seen.started);
  ASSERT_NE(seen.request, nullptr);
  seen.request->extra = 7;
  seen = requests.see(view(100, 300, 1, 2, v1::Frame::REQUEST));  // the first attempt, slower
  EXPECT_FALSE(seen.started);
  EXPECT_EQ(seen.request->sent, 100);
  EXPECT_EQ(seen.request->extra, 7);
  seen = requests.see(view(310, 330, 2, 1, v1::Frame::RESPONSE));
  EXPECT_TRUE(seen.ends);
  ASSERT_NE(seen.request, nullptr);
  EXPECT_EQ(seen.request->sent, 100);
  requests.end(seen.key);
  EXPECT_TRUE(requests.under_way().empty());
  // A request from a node that is not a client is no workload request; an answer to a request
  // whose start is not in the log ends nothing the tracker knows.
  auto from_server = view(400, 410, 2, 1, v1::Frame::REQUEST, 6);
  from_server.frame.set_client(2);
  EXPECT_EQ(requests.see(from_server).request, nullptr);
  seen = requests.see(view(500, 520, 2, 1, v1::Frame::RESPONSE, 9));
  EXPECT_TRUE(seen.ends);
  EXPECT_EQ(seen.request, nullptr);
  EXPECT_TRUE(requests.under_way().empty());
}

}  // namespace
}  // namespace flowframe
