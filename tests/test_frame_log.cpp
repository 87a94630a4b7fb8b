// Frame log: round trip, seeking, and damaged files (truncated, corrupted, newer, not a log).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

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

}  // namespace
}  // namespace flowframe
