// A throwaway PKI for tests: a CA, a serving certificate for 127.0.0.1 and
// localhost, and a client certificate, written as PEM files.
#pragma once

#include <string>

#include "common/result.h"

namespace irsa::fakes {

struct TestPki {
  std::string dir;
  std::string ca_cert;        // ca.crt
  std::string ca_key;         // ca.key
  std::string server_cert;    // server.crt (SAN IP:127.0.0.1, DNS:localhost,
                              // DNS:kubernetes.irsa.test, a name that never resolves)
  std::string server_key;     // server.key
  std::string client_cert;    // client.crt (CN irsa-webhook, O system:masters)
  std::string client_key;     // client.key
  std::string other_ca_cert;  // other-ca.crt: a CA that signed nothing here
};

// Creates the files in `dir` (which must exist). EC P-256, valid one day.
Result<TestPki> make_test_pki(const std::string& dir);

}  // namespace irsa::fakes
