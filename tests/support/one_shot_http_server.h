#pragma once
// A local HTTP server for tests: listens on 127.0.0.1 (a free port), answers one request with
// the given status, and keeps what it received. Header-only, POSIX sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

namespace moedil::testing_support {

class OneShotHttpServer {
 public:
  explicit OneShotHttpServer(int status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, status] { serve(status); });
  }
  ~OneShotHttpServer() {
    if (thread_.joinable()) {
      ::shutdown(fd_, SHUT_RDWR);
      thread_.join();
    }
    ::close(fd_);
  }
  OneShotHttpServer(const OneShotHttpServer&) = delete;
  OneShotHttpServer& operator=(const OneShotHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  /// The whole request (headers and body), once it has been answered.
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }
  /// Stops listening and returns what was received: "" when nobody connected.
  std::string stop() {
    ::shutdown(fd_, SHUT_RDWR);
    return request();
  }
  std::string body() {
    const std::string r = request();
    const std::size_t at = r.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : r.substr(at + 4);
  }

 private:
  void serve(int status) {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buffer[4096];
    std::size_t need = std::string::npos;
    while (request_.size() < need) {
      const ssize_t n = ::read(c, buffer, sizeof buffer);
      if (n <= 0) break;
      request_.append(buffer, static_cast<std::size_t>(n));
      const std::size_t end = request_.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        std::size_t length = 0;
        const std::size_t at = request_.find("Content-Length: ");
        if (at != std::string::npos && at < end) length = std::strtoul(request_.c_str() + at + 16, nullptr, 10);
        need = end + 4 + length;
      }
    }
    const std::string reply = "HTTP/1.1 " + std::to_string(status) +
                              " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!::write(c, reply.data(), reply.size());
    ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

}  // namespace moedil::testing_support
