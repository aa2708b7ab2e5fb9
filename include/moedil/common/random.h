#pragma once
// Portable seeded randomness for data order and splits: std::mt19937_64 is specified bit for bit
// by the standard, and the shuffle below is our own, so the same seed gives the same order on
// every platform and LibTorch version.
#include <cstdint>
#include <initializer_list>
#include <random>
#include <vector>

namespace moedil {

/// Mixes a base seed with stream identifiers (domain, epoch, ...) into one 64-bit seed
/// (splitmix64 steps), so derived streams do not overlap.
uint64_t mix_seed(uint64_t base, std::initializer_list<uint64_t> streams);

/// A config seed (an int64 config value) as the unsigned base of mix_seed and the engines.
inline uint64_t seed_of(int64_t seed) { return static_cast<uint64_t>(seed); }

/// Uniform integer in [0, bound) from engine, without modulo bias (bound > 0).
uint64_t uniform_below(std::mt19937_64& engine, uint64_t bound);

/// Uniform double in the open interval (0, 1) from the top 53 bits of one engine output.
double uniform_open01(std::mt19937_64& engine);

/// A fresh seed from the operating system's entropy, in [1, 2^31 - 1]: what an unseeded seed
/// (config `0`, "random" or null) becomes; the run records the value, so the run can be redone.
int64_t entropy_seed();

/// A uniformly random permutation of 0..n-1 (Fisher-Yates over mt19937_64(seed)).
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed);

}  // namespace moedil
