#pragma once
// Typed errors thrown by library code. main() maps them to exit codes:
// ConfigError and UsageError -> 2 (bad usage or config), DataError -> 2 (missing or malformed
// input files), everything else -> 1.
#include <stdexcept>
#include <string>

namespace moedil {

/// Base of every moedil error: a message that says what went wrong and where.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A command line that cannot be executed (unknown option value, missing file argument).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// A configuration that cannot be run: bad JSON, unknown key, wrong type, out of range, ...
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Input data missing or malformed (dataset files, weight files).
class DataError : public Error {
 public:
  using Error::Error;
};

/// A file could not be written or read (results, logs).
class IoError : public Error {
 public:
  using Error::Error;
};

/// Training diverged or produced an invalid state (NaN loss).
class TrainingError : public Error {
 public:
  using Error::Error;
};

/// The run was stopped on request (SIGINT / SIGTERM); what it had done is kept.
class InterruptedError : public Error {
 public:
  /// `signal` is the signal that asked for the stop (2 = SIGINT, 15 = SIGTERM); the exit code
  /// is 128 + signal.
  explicit InterruptedError(const std::string& what, int signal = 2) : Error(what), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

}  // namespace moedil
