#pragma once
// Seeded per-node random numbers with our own distribution code: the standard library's
// distributions are implementation-defined, so they would break byte-identical logs across builds.
#include <cstdint>
#include <string_view>

namespace flowframe {

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);
  // A generator for one node: depends only on the run seed and the node's id string.
  static Rng for_node(std::uint64_t run_seed, std::string_view node_id);

  std::uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double next_double();
  // Uniform in (0, 1]: safe to take the logarithm of.
  double next_open_double();
  // Uniform integer in [0, bound) without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t bound);
  double exponential(double mean);
  double standard_normal();

 private:
  std::uint64_t state_[4];
};

// 64-bit FNV-1a: a stable hash for ids and addresses (std::hash is not stable across builds).
std::uint64_t stable_hash(std::string_view text, std::uint64_t seed = 0);
// Finaliser that spreads bits (splitmix64's mix step).
std::uint64_t mix64(std::uint64_t value);

}  // namespace flowframe
