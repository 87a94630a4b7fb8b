// Without libFuzzer (a g++ build): runs a fuzz target over its seed files and, with
// --mutations N, N deterministic mutations of each (bit flips, cuts, inserted and repeated
// bytes). CI runs this under the sanitizers as the fuzzers' smoke test; the long runs use clang's
// libFuzzer on the same targets (-DFLOWFRAME_FUZZ=ON, docs in the README).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::string mutated(const std::string& seed, std::mt19937_64& random) {
  std::string out = seed;
  const auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(random() % n); };
  const int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits; ++e) {
    switch (random() % 5) {
      case 0:
        if (!out.empty()) out[pick(out.size())] ^= static_cast<char>(1u << (random() % 8));
        break;
      case 1: out.resize(pick(out.size() + 1)); break;
      case 2: out.insert(pick(out.size() + 1), std::string(1 + pick(16), static_cast<char>(random()))); break;
      case 3: {  // a slice repeated, as a fuzzer's crossover might
        const auto from = pick(out.size()), length = pick(std::min<std::size_t>(out.size() - from, 256) + 1);
        out.insert(pick(out.size() + 1), out.substr(from, length));
        break;
      }
      default:
        if (!out.empty()) out[pick(out.size())] = static_cast<char>(random());
    }
  }
  return out;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 0;
  std::vector<std::filesystem::path> seeds;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mutations") && i + 1 < argc) {
      mutations = std::strtol(argv[++i], nullptr, 10);
    } else if (!std::filesystem::exists(argv[i])) {
      std::cerr << argv[i] << ": no such seed file or folder\n";
      return 2;
    } else if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i]))
        if (entry.is_regular_file()) seeds.push_back(entry.path());
    } else {
      seeds.emplace_back(argv[i]);
    }
  }
  if (seeds.empty()) {
    std::cerr << "usage: " << argv[0] << " [--mutations N] SEED_FILE_OR_DIR...\n";
    return 2;
  }
  std::sort(seeds.begin(), seeds.end());
  std::uint64_t runs = 0;
  for (std::size_t s = 0; s < seeds.size(); ++s) {
    std::ifstream file(seeds[s], std::ios::binary);
    std::stringstream bytes;
    bytes << file.rdbuf();
    const std::string seed = bytes.str();
    if (seed.empty()) {  // a seed that did not arrive (say, left out of the repository) tests nothing
      std::cerr << seeds[s].string() << ": empty seed\n";
      return 2;
    }
    run(seed);
    std::mt19937_64 random(s + 1);
    for (long m = 0; m < mutations; ++m, ++runs) run(mutated(seed, random));
    ++runs;
  }
  std::cout << runs << " inputs from " << seeds.size() << " seeds, no crash\n";
  return 0;
}
