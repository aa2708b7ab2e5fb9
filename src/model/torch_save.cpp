#include "moedil/model/torch_save.h"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/common/error.h"

namespace moedil::model {
namespace {

/// The bytes of a file in memory, for the zip reader.
class BytesAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesAdapter(std::string_view bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    const size_t count = std::min<size_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, count);
    return count;
  }

 private:
  std::string_view bytes_;
};

struct Value;
using Ref = std::shared_ptr<Value>;

/// A pickled object, as far as a state dict needs: anything else is Opaque (never built).
struct Value {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor,
                    Opaque };
  Kind kind = Kind::None;
  int64_t i = 0;   ///< Bool, Int
  double f = 0.0;  ///< Float
  std::string s;   ///< String; Global: "module.name"; Opaque: what it was
  std::vector<Ref> items;                    ///< Tuple, List
  std::vector<std::pair<Ref, Ref>> entries;  ///< Dict, in order
  at::Tensor tensor;                         ///< Storage (1-D), Tensor
};

Ref make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

at::ScalarType storage_dtype(const std::string& global) {
  static const std::map<std::string, at::ScalarType> types = {
      {"torch.FloatStorage", at::kFloat},   {"torch.DoubleStorage", at::kDouble},
      {"torch.HalfStorage", at::kHalf},     {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},     {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},     {"torch.BoolStorage", at::kBool}};
  const auto it = types.find(global);
  return it == types.end() ? at::ScalarType::Undefined : it->second;
}

class Unpickler {
 public:
  Unpickler(std::string_view pkl, caffe2::serialize::PyTorchStreamReader& zip, std::string path)
      : pkl_(pkl), zip_(zip), path_(std::move(path)) {}

  Ref run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                   // PROTO
        case 0x95: bytes(8); break;                 // FRAME
        case '.':                                   // STOP
          if (stack_.empty()) fail("an empty stack at STOP");
          return stack_.back();
        case 'N': push(make(Value::Kind::None)); break;
        case 0x88: case 0x89: {                     // NEWTRUE, NEWFALSE
          Ref v = make(Value::Kind::Bool);
          v->i = op == 0x88;
          push(v);
          break;
        }
        case 'J': push_int(signed_le(4)); break;    // BININT
        case 'K': push_int(unsigned_le(1)); break;  // BININT1
        case 'M': push_int(unsigned_le(2)); break;  // BININT2
        case 0x8a: push_int(signed_le(byte())); break;  // LONG1
        case 'G': {                                 // BINFLOAT, big-endian
          uint64_t bits = 0;
          for (char c : bytes(8)) bits = (bits << 8) | static_cast<uint8_t>(c);
          Ref v = make(Value::Kind::Float);
          std::memcpy(&v->f, &bits, sizeof bits);
          push(v);
          break;
        }
        case 'X': push_string(bytes(unsigned_le(4))); break;     // BINUNICODE
        case 0x8c: push_string(bytes(byte())); break;            // SHORT_BINUNICODE
        case 0x8d: push_string(bytes(unsigned_le(8))); break;    // BINUNICODE8
        case 'T': push_string(bytes(unsigned_le(4))); break;     // BINSTRING
        case 'U': push_string(bytes(byte())); break;             // SHORT_BINSTRING
        case 'B': push_string(bytes(unsigned_le(4))); break;     // BINBYTES
        case 'C': push_string(bytes(byte())); break;             // SHORT_BINBYTES
        case '}': push(make(Value::Kind::Dict)); break;
        case ']': push(make(Value::Kind::List)); break;
        case ')': push(make(Value::Kind::Tuple)); break;
        case '(': marks_.push_back(stack_.size()); break;        // MARK
        case 't': case 'l': {                                    // TUPLE, LIST
          Ref v = make(op == 't' ? Value::Kind::Tuple : Value::Kind::List);
          v->items = pop_to_mark();
          push(v);
          break;
        }
        case 'd': {                                              // DICT
          Ref v = make(Value::Kind::Dict);
          set_items(*v, pop_to_mark());
          push(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {                       // TUPLE1..3
          const std::size_t n = op - 0x84;
          Ref v = make(Value::Kind::Tuple);
          v->items = pop_n(n);
          push(v);
          break;
        }
        case 'a': {                                              // APPEND
          Ref item = pop();
          top_of_kind(Value::Kind::List, "APPEND").items.push_back(item);
          break;
        }
        case 'e': {                                              // APPENDS
          std::vector<Ref> items = pop_to_mark();
          Value& list = top_of_kind(Value::Kind::List, "APPENDS");
          list.items.insert(list.items.end(), items.begin(), items.end());
          break;
        }
        case 's': {                                              // SETITEM
          std::vector<Ref> kv = pop_n(2);
          set_items(top_of_kind(Value::Kind::Dict, "SETITEM"), kv);
          break;
        }
        case 'u': {                                              // SETITEMS
          std::vector<Ref> kv = pop_to_mark();
          set_items(top_of_kind(Value::Kind::Dict, "SETITEMS"), kv);
          break;
        }
        case 'q': memo_put(unsigned_le(1)); break;               // BINPUT
        case 'r': memo_put(unsigned_le(4)); break;               // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;                // MEMOIZE
        case 'h': push(memo_get(unsigned_le(1))); break;         // BINGET
        case 'j': push(memo_get(unsigned_le(4))); break;         // LONG_BINGET
        case 'c': {                                              // GLOBAL
          std::string module = line();
          std::string name = line();
          push_global(module + "." + name);
          break;
        }
        case 0x93: {                                             // STACK_GLOBAL
          std::vector<Ref> mn = pop_n(2);
          if (mn[0]->kind != Value::Kind::String || mn[1]->kind != Value::Kind::String) {
            fail("STACK_GLOBAL without a module and a name");
          }
          push_global(mn[0]->s + "." + mn[1]->s);
          break;
        }
        case 'R': {                                              // REDUCE
          Ref args = pop();
          Ref callable = pop();
          push(reduce(*callable, *args));
          break;
        }
        case 0x81: {                                             // NEWOBJ
          pop();
          Ref cls = pop();
          push(opaque(cls->s));
          break;
        }
        case 'b': pop(); break;  // BUILD: the state of an object; nothing a state dict needs
        case 'Q': push(persistent(*pop())); break;               // BINPERSID
        default:
          fail("pickle opcode 0x" + hex(op) + ", which torch.save does not write for a state "
               "dict");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw DataError("'" + path_ + "': cannot read the torch.save pickle: " + what + " (at byte " +
                    std::to_string(pos_) + ")");
  }
  static std::string hex(uint8_t b) {
    static const char* digits = "0123456789abcdef";
    return {digits[b >> 4], digits[b & 15]};
  }
  uint8_t byte() {
    if (pos_ >= pkl_.size()) fail("the pickle ends early");
    return static_cast<uint8_t>(pkl_[pos_++]);
  }
  std::string_view bytes(uint64_t n) {
    if (n > pkl_.size() - pos_) fail("the pickle ends early");
    const std::string_view out = pkl_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t unsigned_le(int n) {
    uint64_t v = 0;
    const std::string_view b = bytes(n);
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[k]);
    return v;
  }
  int64_t signed_le(int n) {
    if (n == 0) return 0;
    if (n > 8) fail("an integer of " + std::to_string(n) + " bytes");
    uint64_t v = unsigned_le(n);
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const std::size_t end = pkl_.find('\n', pos_);
    if (end == std::string_view::npos) fail("the pickle ends early");
    std::string out(pkl_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  void push(Ref v) { stack_.push_back(std::move(v)); }
  void push_int(int64_t i) {
    Ref v = make(Value::Kind::Int);
    v->i = i;
    push(v);
  }
  void push_string(std::string_view s) {
    Ref v = make(Value::Kind::String);
    v->s = std::string(s);
    push(v);
  }
  void push_global(const std::string& name) {
    Ref v = make(Value::Kind::Global);
    v->s = name;
    push(v);
  }
  static Ref opaque(const std::string& what) {
    Ref v = make(Value::Kind::Opaque);
    v->s = what;
    return v;
  }
  Ref pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      fail("a value taken from an empty stack");
    }
    Ref v = stack_.back();
    stack_.pop_back();
    return v;
  }
  std::vector<Ref> pop_n(std::size_t n) {
    std::vector<Ref> out(n);
    for (std::size_t k = n; k-- > 0;) out[k] = pop();
    return out;
  }
  std::vector<Ref> pop_to_mark() {
    if (marks_.empty()) fail("a MARK is missing");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Ref> out(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return out;
  }
  Value& top_of_kind(Value::Kind kind, const char* op) {
    if (stack_.empty()) fail(std::string(op) + " on an empty stack");
    Value& top = *stack_.back();
    if (top.kind != kind) {
      if (top.kind == Value::Kind::Opaque) return top;  // filling an object it did not build
      fail(std::string(op) + " on a value that is not a " +
           (kind == Value::Kind::List ? "list" : "dict"));
    }
    return top;
  }
  void set_items(Value& dict, const std::vector<Ref>& kv) {
    if (kv.size() % 2 != 0) fail("a dict with a key and no value");
    if (dict.kind != Value::Kind::Dict) return;
    for (std::size_t k = 0; k < kv.size(); k += 2) dict.entries.emplace_back(kv[k], kv[k + 1]);
  }
  void memo_put(uint64_t index) {
    if (stack_.empty()) fail("a memo entry of an empty stack");
    memo_[index] = stack_.back();
  }
  Ref memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("a memo entry that was never stored");
    return it->second;
  }

  Ref reduce(const Value& callable, const Value& args) {
    if (callable.kind != Value::Kind::Global) return opaque("the result of a call");
    const std::string& name = callable.s;
    if (name == "collections.OrderedDict") return make(Value::Kind::Dict);
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      return rebuild_tensor(args);
    }
    if (name == "torch._utils._rebuild_parameter" ||
        name == "torch._utils._rebuild_parameter_with_state") {
      if (args.kind != Value::Kind::Tuple || args.items.empty() ||
          args.items[0]->kind != Value::Kind::Tensor) {
        fail(name + " without a tensor");
      }
      return args.items[0];
    }
    return opaque(name);  // e.g. an argparse.Namespace beside the weights: skipped, never built
  }

  std::vector<int64_t> ints(const Value& tuple, const char* what) {
    if (tuple.kind != Value::Kind::Tuple && tuple.kind != Value::Kind::List) {
      fail(std::string("a tensor whose ") + what + " is not a tuple");
    }
    std::vector<int64_t> out;
    for (const Ref& item : tuple.items) {
      if (item->kind != Value::Kind::Int) fail(std::string("a tensor whose ") + what +
                                               " holds something other than integers");
      out.push_back(item->i);
    }
    return out;
  }

  Ref rebuild_tensor(const Value& args) {
    // (storage, storage_offset, size, stride, ...)
    if (args.kind != Value::Kind::Tuple || args.items.size() < 4 ||
        args.items[0]->kind != Value::Kind::Storage || args.items[1]->kind != Value::Kind::Int) {
      fail("a tensor that is not (storage, offset, size, stride, ...)");
    }
    const at::Tensor& storage = args.items[0]->tensor;
    const int64_t offset = args.items[1]->i;
    const std::vector<int64_t> size = ints(*args.items[2], "size");
    const std::vector<int64_t> stride = ints(*args.items[3], "stride");
    if (size.size() != stride.size()) fail("a tensor whose size and stride differ in length");
    // The last element the view reaches must lie inside the storage.
    int64_t last = offset;
    bool empty = false;
    for (std::size_t k = 0; k < size.size(); ++k) {
      if (size[k] < 0 || stride[k] < 0) fail("a tensor with a negative size or stride");
      if (size[k] == 0) empty = true;
      last += (size[k] - 1) * stride[k];
    }
    Ref v = make(Value::Kind::Tensor);
    if (empty) {
      v->tensor = at::empty(size, storage.options());
      return v;
    }
    if (offset < 0 || last >= storage.numel()) {
      fail("a tensor reaching past its storage of " + std::to_string(storage.numel()) +
           " elements");
    }
    v->tensor = storage.as_strided(size, stride, offset).clone(at::MemoryFormat::Contiguous);
    return v;
  }

  Ref persistent(const Value& pid) {
    // ('storage', storage type, key, location, numel)
    if (pid.kind != Value::Kind::Tuple || pid.items.size() < 5 ||
        pid.items[0]->kind != Value::Kind::String || pid.items[0]->s != "storage" ||
        pid.items[1]->kind != Value::Kind::Global || pid.items[2]->kind != Value::Kind::String ||
        pid.items[4]->kind != Value::Kind::Int) {
      fail("a persistent id that is not a tensor storage");
    }
    const at::ScalarType dtype = storage_dtype(pid.items[1]->s);
    if (dtype == at::ScalarType::Undefined) fail("a storage of type " + pid.items[1]->s);
    const std::string& key = pid.items[2]->s;
    const int64_t numel = pid.items[4]->i;
    auto cached = storages_.find(key);
    if (cached == storages_.end()) {
      const std::string record = "data/" + key;
      if (!zip_.hasRecord(record)) fail("storage '" + key + "' missing from the archive");
      auto [data, bytes] = zip_.getRecord(record);
      const int64_t element = static_cast<int64_t>(c10::elementSize(dtype));
      if (numel < 0 || static_cast<int64_t>(bytes) != numel * element) {
        fail("storage '" + key + "' holds " + std::to_string(bytes) + " bytes, not " +
             std::to_string(numel) + " elements of " + std::to_string(element));
      }
      at::Tensor storage = at::empty({numel}, at::TensorOptions().dtype(dtype));
      if (bytes > 0) std::memcpy(storage.data_ptr(), data.get(), bytes);
      cached = storages_.emplace(key, storage).first;
    }
    Ref v = make(Value::Kind::Storage);
    v->tensor = cached->second;
    return v;
  }

  std::string_view pkl_;
  caffe2::serialize::PyTorchStreamReader& zip_;
  std::string path_;
  std::size_t pos_ = 0;
  std::vector<Ref> stack_;
  std::vector<std::size_t> marks_;
  std::map<uint64_t, Ref> memo_;
  std::map<std::string, at::Tensor> storages_;
};

std::string key_text(const Value& key) {
  if (key.kind == Value::Kind::String) return key.s;
  if (key.kind == Value::Kind::Int) return std::to_string(key.i);
  return "";
}

void flatten(const Value& v, const std::string& prefix, std::map<std::string, at::Tensor>& out) {
  const auto join = [&](const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  };
  switch (v.kind) {
    case Value::Kind::Tensor:
      out[prefix] = v.tensor;
      break;
    case Value::Kind::Dict:
      for (const auto& [key, value] : v.entries) {
        const std::string text = key_text(*key);
        if (!text.empty()) flatten(*value, join(text), out);
      }
      break;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (std::size_t k = 0; k < v.items.size(); ++k) {
        flatten(*v.items[k], join(std::to_string(k)), out);
      }
      break;
    default:
      break;  // numbers, strings, objects it did not build
  }
}

}  // namespace

std::optional<std::map<std::string, at::Tensor>> read_torch_save(std::string_view bytes,
                                                                 const std::string& path) {
  if (bytes.size() < 4 || bytes.substr(0, 4) != std::string_view("PK\x03\x04", 4)) {
    return std::nullopt;
  }
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
        std::make_shared<BytesAdapter>(bytes));
    // A TorchScript archive (what LibTorch's torch::save writes) has constants.pkl beside it.
    if (!zip->hasRecord("data.pkl") || zip->hasRecord("constants.pkl")) return std::nullopt;
  } catch (const c10::Error&) {
    return std::nullopt;  // not an archive this reader knows
  }
  try {
    if (zip->hasRecord("byteorder")) {
      auto [data, size] = zip->getRecord("byteorder");
      const std::string order(static_cast<const char*>(data.get()), size);
      if (order != "little") {
        throw DataError("'" + path + "': its tensors are stored " + order +
                        "-endian; save it on a little-endian machine");
      }
    }
    auto [data, size] = zip->getRecord("data.pkl");
    const std::string pkl(static_cast<const char*>(data.get()), size);
    Unpickler unpickler(pkl, *zip, path);
    const Ref root = unpickler.run();
    std::map<std::string, at::Tensor> out;
    flatten(*root, "", out);
    return out;
  } catch (const c10::Error& e) {
    throw DataError("'" + path + "': cannot read the torch.save archive: " +
                    e.what_without_backtrace());
  }
}

namespace {

/// Python's pickle, protocol 2, written by hand: only what a state dict of tensors needs.
class PickleWriter {
 public:
  void proto() { out_ += "\x80\x02"; }
  void global(const std::string& module, const std::string& name) {
    out_ += 'c' + module + '\n' + name + '\n';
  }
  void mark() { out_ += '('; }
  void tuple() { out_ += 't'; }
  void empty_tuple() { out_ += ')'; }
  void reduce() { out_ += 'R'; }
  void persistent_id() { out_ += 'Q'; }
  void set_items() { out_ += 'u'; }
  void stop() { out_ += '.'; }
  void boolean(bool v) { out_ += v ? '\x88' : '\x89'; }
  void string(const std::string& s) {
    out_ += 'X';
    append_le(static_cast<uint64_t>(s.size()), 4);
    out_ += s;
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';  // BININT: 4 bytes, signed
      append_le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      out_ += '\x8a';  // LONG1: 8 bytes, two's complement
      out_ += '\x08';
      append_le(static_cast<uint64_t>(v), 8);
    }
  }
  /// collections.OrderedDict(): what model.state_dict() is, and a tensor's backward hooks.
  void ordered_dict() {
    global("collections", "OrderedDict");
    empty_tuple();
    reduce();
  }
  const std::string& bytes() const { return out_; }

 private:
  void append_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string out_;
};

/// torch's legacy storage class of a dtype, as torch.save names it.
std::string storage_class(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "FloatStorage";
    case at::kDouble: return "DoubleStorage";
    case at::kHalf: return "HalfStorage";
    case at::kBFloat16: return "BFloat16Storage";
    case at::kLong: return "LongStorage";
    case at::kInt: return "IntStorage";
    case at::kShort: return "ShortStorage";
    case at::kChar: return "CharStorage";
    case at::kByte: return "ByteStorage";
    case at::kBool: return "BoolStorage";
    default:
      throw DataError(std::string("a tensor of type ") + c10::toString(type) +
                      " cannot be written as a state dict");
  }
}

}  // namespace

std::string write_torch_save(const std::map<std::string, at::Tensor>& tensors) {
  // As torch.save writes it: a zip of archive/data.pkl (the pickled OrderedDict; each tensor
  // rebuilt by torch._utils._rebuild_tensor_v2 from a storage named by a persistent id) and one
  // archive/data/<key> record per storage. Only globals that torch.load(weights_only=True)
  // allows are named (LibTorch's pickle_save names torch.jit's, which PyTorch >= 2.6 refuses).
  std::vector<at::Tensor> storages;
  PickleWriter p;
  p.proto();
  p.ordered_dict();
  p.mark();
  for (const auto& [name, given] : tensors) {
    const at::Tensor tensor = given.detach().to(at::kCPU).contiguous().clone();
    p.string(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    p.mark();  // the persistent id: ('storage', torch.<T>Storage, key, 'cpu', numel)
    p.string("storage");
    p.global("torch", storage_class(tensor.scalar_type()));
    p.string(std::to_string(storages.size()));
    p.string("cpu");
    p.integer(tensor.numel());
    p.tuple();
    p.persistent_id();
    p.integer(0);  // storage offset
    p.mark();
    for (int64_t size : tensor.sizes()) p.integer(size);
    p.tuple();
    p.mark();
    for (int64_t stride : tensor.strides()) p.integer(stride);
    p.tuple();
    p.boolean(false);  // requires_grad
    p.ordered_dict();  // backward hooks
    p.tuple();
    p.reduce();
    storages.push_back(tensor);
  }
  p.set_items();
  p.stop();
  std::string out;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) {
      out.append(static_cast<const char*>(data), size);
      return size;
    });
    writer.writeRecord("data.pkl", p.bytes().data(), p.bytes().size());
    writer.writeRecord("byteorder", "little", 6);
    for (std::size_t key = 0; key < storages.size(); ++key) {
      const at::Tensor& t = storages[key];
      writer.writeRecord("data/" + std::to_string(key), t.data_ptr(),
                         static_cast<size_t>(t.numel()) * t.element_size());
    }
    writer.writeEndOfFile();
  }
  return out;
}

}  // namespace moedil::model
