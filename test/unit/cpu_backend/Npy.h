//===- Npy.h - a minimal .npy reader for the committed goldens ------------===//
//
// Reads little-endian version 1/2 .npy files of <f4, <i4 and <u2 written by
// numpy.save (C order), which is all make_goldens.py writes.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CPU_BACKEND_NPY_H
#define LLMC_TEST_UNIT_CPU_BACKEND_NPY_H

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace llmc::test {

struct NpyArray {
  std::string descr; // "<f4", "<i4", "<u2"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  template <typename T> std::vector<T> as() const {
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
};

/// Loads `path`; on failure returns false and says why in `error`.
inline bool loadNpy(const std::string &path, NpyArray &array,
                    std::string &error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = "cannot open " + path;
    return false;
  }
  char magic[8];
  file.read(magic, 8);
  if (!file || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    error = path + ": not an .npy file";
    return false;
  }
  uint32_t headerLength = 0;
  if (magic[6] == 1) {
    uint8_t length[2];
    file.read(reinterpret_cast<char *>(length), 2);
    headerLength = length[0] | (length[1] << 8);
  } else {
    uint8_t length[4];
    file.read(reinterpret_cast<char *>(length), 4);
    headerLength = length[0] | (length[1] << 8) | (length[2] << 16) |
                   (static_cast<uint32_t>(length[3]) << 24);
  }
  std::string header(headerLength, '\0');
  file.read(header.data(), headerLength);
  auto field = [&](const std::string &key) {
    size_t at = header.find("'" + key + "':");
    return at == std::string::npos ? std::string::npos : at + key.size() + 3;
  };
  size_t descrAt = field("descr");
  size_t quote = header.find('\'', descrAt);
  array.descr =
      header.substr(quote + 1, header.find('\'', quote + 1) - quote - 1);
  if (header.find("'fortran_order': False") == std::string::npos) {
    error = path + ": Fortran order is not supported";
    return false;
  }
  size_t open = header.find('(', field("shape"));
  size_t close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  array.shape.clear();
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t comma = dims.find(',', pos);
    std::string item = dims.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.find_first_of("0123456789") != std::string::npos)
      array.shape.push_back(std::stoll(item));
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  size_t elementBytes = array.descr == "<f4" || array.descr == "<i4" ? 4
                        : array.descr == "<u2"                       ? 2
                                                                     : 0;
  if (!elementBytes) {
    error = path + ": unsupported dtype " + array.descr;
    return false;
  }
  array.bytes.resize(static_cast<size_t>(array.size()) * elementBytes);
  file.read(reinterpret_cast<char *>(array.bytes.data()), array.bytes.size());
  if (!file) {
    error = path + ": truncated";
    return false;
  }
  return true;
}

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_CPU_BACKEND_NPY_H
