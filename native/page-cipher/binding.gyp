# Built by scripts/build-native.mjs (npm install), with node-gyp's usual flags (-O3 -Wall -Wextra).
# No libraries: the OpenSSL symbols come from the node binary that loads the addon; the headers are
# Node's own (include/node/openssl).
{
  "targets": [
    {
      "target_name": "page_cipher",
      "sources": ["page_cipher.c"]
    }
  ]
}
