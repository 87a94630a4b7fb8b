#include "runtime/engine/random.hpp"

#include <cmath>

namespace flowframe {
namespace {

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::uint64_t splitmix64(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  return mix64(state);
}

}  // namespace

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t stable_hash(std::string_view text, std::uint64_t seed) {
  std::uint64_t hash = 0xCBF29CE484222325ULL ^ mix64(seed);
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001B3ULL;
  }
  return mix64(hash);
}

Rng::Rng(std::uint64_t seed) {
  for (auto& word : state_) word = splitmix64(seed);
}

Rng Rng::for_node(std::uint64_t run_seed, std::string_view node_id) {
  return Rng(stable_hash(node_id, run_seed));
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double Rng::next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::next_open_double() { return (static_cast<double>(next_u64() >> 11) + 1.0) * 0x1.0p-53; }

std::uint64_t Rng::below(std::uint64_t bound) {
  // Lemire, "Fast Random Integer Generation in an Interval" (2019).
  __uint128_t product = static_cast<__uint128_t>(next_u64()) * bound;
  auto low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = -bound % bound;
    while (low < threshold) {
      product = static_cast<__uint128_t>(next_u64()) * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

double Rng::exponential(double mean) { return -mean * std::log(next_open_double()); }

double Rng::standard_normal() {
  // Box-Muller, one value per call so the stream position never depends on cached state.
  const double radius = std::sqrt(-2.0 * std::log(next_open_double()));
  const double angle = 2.0 * M_PI * next_double();
  return radius * std::cos(angle);
}

}  // namespace flowframe
