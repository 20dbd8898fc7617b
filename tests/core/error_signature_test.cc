#include "core/error_signature.h"

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deja {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::MatchesRegex;

std::string IdOf(const std::string& line) {
  const std::optional<ErrorSignature> signature = SignatureOf(line);
  EXPECT_TRUE(signature.has_value()) << "no signature for: " << line;
  return signature ? signature->id : "";
}

// Same error, other host/pod/time: same id. Other error: other id.
void ExpectSameAndDifferent(const std::string& first, const std::string& again,
                            const std::string& other) {
  EXPECT_EQ(IdOf(first), IdOf(again))
      << NormalizeErrorLine(first) << "\n vs " << NormalizeErrorLine(again);
  EXPECT_NE(IdOf(first), IdOf(other))
      << NormalizeErrorLine(first) << "\n vs " << NormalizeErrorLine(other);
}

TEST(ErrorSignatureTest, JavaSocketTimeout) {
  ExpectSameAndDifferent(
      "2025-03-14 09:12:01.118 ERROR 1 --- java.net.SocketTimeoutException: "
      "Read timed out",
      "2025-03-15 22:40:57.902 ERROR 7 --- java.net.SocketTimeoutException: "
      "Read timed out",
      "java.net.ConnectException: Connection refused");
}

TEST(ErrorSignatureTest, JavaOutOfMemory) {
  ExpectSameAndDifferent(
      "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap "
      "space",
      "Exception in thread \"http-nio-8080-exec-12\" "
      "java.lang.OutOfMemoryError: Java heap space",
      "Exception in thread \"main\" java.lang.OutOfMemoryError: Metaspace");
}

TEST(ErrorSignatureTest, GoNilPointerPanic) {
  ExpectSameAndDifferent(
      "panic: runtime error: invalid memory address or nil pointer dereference",
      "  panic: runtime error: invalid memory address or nil pointer "
      "dereference  ",
      "panic: runtime error: index out of range [5] with length 3");
}

TEST(ErrorSignatureTest, GoSignalLine) {
  ExpectSameAndDifferent(
      "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]",
      "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 "
      "pc=0x7f3a9e1d20]",
      "[signal SIGBUS: bus error code=0x2 addr=0x0 pc=0x4a1b2c]");
}

TEST(ErrorSignatureTest, PythonOperationalError) {
  ExpectSameAndDifferent(
      "2025-03-14 09:12:01,118 ERROR app.db: psycopg2.OperationalError: "
      "connection to server at \"10.0.3.4\", port 5432 failed: Connection "
      "refused",
      "2025-03-16 11:02:44,007 ERROR app.db: psycopg2.OperationalError: "
      "connection to server at \"10.0.7.19\", port 5432 failed: Connection "
      "refused",
      "psycopg2.errors.UniqueViolation: duplicate key value violates unique "
      "constraint \"orders_pkey\"");
}

// Quoted values are placeholders, so KeyErrors on different keys share a
// signature: the error class and shape are the identity.
TEST(ErrorSignatureTest, PythonKeyErrorIgnoresTheKey) {
  ExpectSameAndDifferent("KeyError: 'customer_id'", "KeyError: 'order_id'",
                         "AttributeError: 'NoneType' object has no attribute "
                         "'get'");
  EXPECT_EQ(NormalizeErrorLine("KeyError: 'customer_id'"), "KeyError: <str>");
}

TEST(ErrorSignatureTest, NginxUpstreamTimeout) {
  ExpectSameAndDifferent(
      "2025/03/14 09:12:01 [error] 1234#1234: *5678 upstream timed out (110: "
      "Connection timed out) while reading response header from upstream, "
      "client: 10.1.2.3, server: api.example.com, request: \"GET "
      "/v1/track/NW123456 HTTP/1.1\", upstream: "
      "\"http://10.0.4.5:8080/v1/track/NW123456\"",
      "2025/03/15 17:45:09 [error] 871#871: *90211 upstream timed out (110: "
      "Connection timed out) while reading response header from upstream, "
      "client: 172.16.9.40, server: api.example.com, request: \"GET "
      "/v1/track/NW998877 HTTP/1.1\", upstream: "
      "\"http://10.0.4.9:8080/v1/track/NW998877\"",
      "2025/03/14 09:12:01 [error] 1234#1234: *5678 connect() failed (111: "
      "Connection refused) while connecting to upstream, client: 10.1.2.3, "
      "server: api.example.com");
}

TEST(ErrorSignatureTest, PostgresTooManyClients) {
  ExpectSameAndDifferent(
      "2025-02-11 10:22:37.118 UTC [77104] FATAL:  sorry, too many clients "
      "already",
      "2025-02-12 03:01:09.554 UTC [81233] app@orders FATAL:  sorry, too many "
      "clients already",
      "2025-02-11 10:22:37.118 UTC [77104] ERROR:  deadlock detected");
  EXPECT_EQ(IdOf("FATAL:  sorry, too many clients already"),
            IdOf("2025-02-11 10:22:37 UTC [77104-1] FATAL:  sorry, too many "
                 "clients already"));
}

TEST(ErrorSignatureTest, PostgresSlotsReservedIsUnchanged) {
  EXPECT_EQ(NormalizeErrorLine("2025-02-11 10:22:37.118 UTC [77104] FATAL:  "
                               "remaining connection slots are reserved for "
                               "non-replication superuser connections"),
            "FATAL: remaining connection slots are reserved for "
            "non-replication superuser connections");
}

TEST(ErrorSignatureTest, KubernetesBackOff) {
  ExpectSameAndDifferent(
      "5m  Warning  BackOff  pod/route-planner-7c9d8f6b5-x2k4q  Back-off "
      "restarting failed container route-planner in pod "
      "route-planner-7c9d8f6b5-x2k4q_routing"
      "(0b6f9c2e-5d1a-4c3b-9e8f-7a6b5c4d3e2f)",
      "12m  Warning  BackOff  pod/route-planner-5f6a7b8c9-m7zq2  Back-off "
      "restarting failed container route-planner in pod "
      "route-planner-5f6a7b8c9-m7zq2_routing"
      "(9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c0d)",
      "5m  Warning  BackOff  pod/billing-api-6d9f8b7c4-pp9wz  Back-off "
      "restarting failed container billing-api in pod "
      "billing-api-6d9f8b7c4-pp9wz_billing"
      "(0b6f9c2e-5d1a-4c3b-9e8f-7a6b5c4d3e2f)");
}

TEST(ErrorSignatureTest, KubernetesOomKilled) {
  ExpectSameAndDifferent(
      "route-planner-7c9d8f6b5-x2k4q   0/1   OOMKilled   3 (45s ago)   12m",
      "route-planner-5f6a7b8c9-m7zq2   0/1   OOMKilled   7 (2m ago)   3h",
      "route-planner-7c9d8f6b5-x2k4q   0/1   CrashLoopBackOff   3 (45s ago)   "
      "12m");
}

TEST(ErrorSignatureTest, KernelOomKillerSameProcess) {
  ExpectSameAndDifferent(
      "Mar 14 09:12:01 ip-10-0-3-17 kernel: [812345.678901] Out of memory: "
      "Killed process 12345 (route-planner) total-vm:8123456kB, "
      "anon-rss:4012345kB, file-rss:0kB, shmem-rss:0kB",
      "Mar 15 23:01:44 ip-10-0-9-201 kernel: [ 1234.5] Out of memory: Killed "
      "process 998 (route-planner) total-vm:9000111kB, anon-rss:4100222kB, "
      "file-rss:12kB, shmem-rss:0kB",
      // The process name is identity: another service is another incident.
      "Mar 14 09:12:01 ip-10-0-3-17 kernel: [812345.678901] Out of memory: "
      "Killed process 12345 (billing-api) total-vm:8123456kB, "
      "anon-rss:4012345kB, file-rss:0kB, shmem-rss:0kB");
}

TEST(ErrorSignatureTest, TlsCertificateExpired) {
  ExpectSameAndDifferent(
      "x509: certificate has expired or is not yet valid: current time "
      "2024-12-30T07:01:12Z is after 2024-12-30T00:00:00Z",
      "x509: certificate has expired or is not yet valid: current time "
      "2025-01-02T18:44:03Z is after 2024-12-30T00:00:00Z",
      "x509: certificate signed by unknown authority");
}

TEST(ErrorSignatureTest, DnsKeepsServiceHostnames) {
  ExpectSameAndDifferent(
      "dial tcp: lookup tracking-api.internal on 10.0.0.10:53: server "
      "misbehaving",
      "dial tcp: lookup tracking-api.internal on 172.20.0.10:53: server "
      "misbehaving",
      "dial tcp: lookup billing-api.internal on 10.0.0.10:53: server "
      "misbehaving");
  EXPECT_EQ(NormalizeErrorLine("dial tcp: lookup tracking-api.internal on "
                               "10.0.0.10:53: server misbehaving"),
            "dial tcp: lookup tracking-api.internal on <ip>:<num>: server "
            "misbehaving");
}

TEST(ErrorSignatureTest, ReplacesVariableHostnames) {
  EXPECT_EQ(NormalizeErrorLine("connect to web-03 failed"),
            "connect to <host> failed");
  EXPECT_EQ(NormalizeErrorLine("node ip-10-0-3-17.ec2.internal not ready"),
            "node <host> not ready");
  EXPECT_EQ(NormalizeErrorLine("lease lost by node-7f3c"),
            "lease lost by <host>");
  EXPECT_EQ(NormalizeErrorLine("pod returns-api-6d9f8b7c4-pp9wz evicted"),
            "pod <host> evicted");
}

TEST(ErrorSignatureTest, ReplacesIdsInPathsAndKeyValues) {
  EXPECT_EQ(NormalizeErrorLine("GET /v1/orders/123456 returned 404"),
            "GET /v1/orders/<id> returned <num>");
  EXPECT_EQ(NormalizeErrorLine(
                "stat /var/lib/kubelet/pods/"
                "8f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f/volumes: no such file"),
            "stat /var/lib/kubelet/pods/<id>/volumes: no such file");
  EXPECT_EQ(NormalizeErrorLine("request failed req=5e1b09a4 trace=Xy7kQ2pLm9"),
            "request failed req=<hex> trace=<v>");
}

TEST(ErrorSignatureTest, StripsKlogAndSyslogPrefixes) {
  EXPECT_EQ(NormalizeErrorLine("I0314 09:12:01.123456       1 "
                               "kubelet.go:2412] Failed to sync pod"),
            "Failed to sync pod");
  EXPECT_EQ(NormalizeErrorLine("Mar 14 09:12:01 web-03 sshd[812]: Connection "
                               "closed by authenticating user"),
            "Connection closed by authenticating user");
}

TEST(ErrorSignatureTest, KeepsLeadingNumbersOutsideAPrefix) {
  EXPECT_EQ(NormalizeErrorLine("ERROR: deadlock detected"),
            "ERROR: deadlock detected");
  EXPECT_EQ(NormalizeErrorLine("retry in 30000ms after 1m30s, 1.5s, 512MiB"),
            "retry in <dur> after <dur>, <dur>, <num>MiB");
  EXPECT_EQ(NormalizeErrorLine("503 Service Unavailable"),
            "<num> Service Unavailable");
}

TEST(ErrorSignatureTest, CaseDoesNotChangeTheId) {
  EXPECT_EQ(IdOf("Connection refused by upstream"),
            IdOf("connection refused by upstream"));
  EXPECT_EQ(NormalizeErrorLine("Connection refused"), "Connection refused");
}

TEST(ErrorSignatureTest, NoSignalGivesNullopt) {
  EXPECT_EQ(SignatureOf(""), std::nullopt);
  EXPECT_EQ(SignatureOf("   \t  "), std::nullopt);
  EXPECT_EQ(SignatureOf("---- ... ----"), std::nullopt);
  EXPECT_EQ(SignatureOf("2025-03-14 09:12:01 10.0.0.1 12345 0xdeadbeef"),
            std::nullopt);
  EXPECT_EQ(SignatureOf("Error"), std::nullopt);
}

TEST(ErrorSignatureTest, StackFramesAndHeadersGiveNullopt) {
  EXPECT_EQ(SignatureOf("Traceback (most recent call last):"), std::nullopt);
  EXPECT_EQ(SignatureOf("  File \"/app/worker.py\", line 42, in handle"),
            std::nullopt);
  EXPECT_EQ(SignatureOf("\tat java.base/java.net.SocketInputStream.read("
                        "SocketInputStream.java:168)"),
            std::nullopt);
  EXPECT_EQ(SignatureOf("\t... 23 more"), std::nullopt);
  EXPECT_EQ(SignatureOf("goroutine 1 [running]:"), std::nullopt);
  EXPECT_EQ(SignatureOf("main.handler(0xc000010000, 0x1)"), std::nullopt);
  EXPECT_EQ(SignatureOf("\t/app/main.go:42 +0x1d"), std::nullopt);
}

TEST(ErrorSignatureTest, OneLongWordIsEnough) {
  EXPECT_NE(SignatureOf("OOMKilled"), std::nullopt);
}

TEST(ErrorSignatureTest, InvalidUtf8DoesNotCrashAndIsDropped) {
  const std::string line =
      "connection reset \xff\xfe by peer \xc3\x28 caf\xc3\xa9 \xed\xa0\x80";
  const std::optional<ErrorSignature> signature = SignatureOf(line);
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(signature->normalized, "connection reset by peer ( caf\xc3\xa9");
}

TEST(ErrorSignatureTest, HugeLineIsBounded) {
  std::string line = "upstream timed out ";
  while (line.size() < (1 << 20)) line += "'abc \"x 12345 /a/b/9 ";
  const std::optional<ErrorSignature> signature = SignatureOf(line);
  ASSERT_TRUE(signature.has_value());
  EXPECT_LE(signature->normalized.size(), kMaxNormalizedBytes);
}

TEST(ErrorSignatureTest, LongNormalizedTextIsCappedAtACharacterBoundary) {
  std::string line;
  for (int i = 0; i < 200; ++i) line += "\xc3\xa9rror ";
  const std::string normalized = NormalizeErrorLine(line);
  EXPECT_LE(normalized.size(), kMaxNormalizedBytes);
  EXPECT_EQ(NormalizeErrorLine(normalized), normalized);  // still valid UTF-8
}

TEST(ErrorSignatureTest, IdIsSixteenLowercaseHexChars) {
  const std::optional<ErrorSignature> signature =
      SignatureOf("ERROR: deadlock detected");
  ASSERT_TRUE(signature.has_value());
  EXPECT_THAT(signature->id, MatchesRegex("[0-9a-f]{16}"));
}

// Pinned (FNV-1a 64 of "error: deadlock detected", checked independently):
// if this changes, every stored signature changes too. Update it only
// on purpose, together with a reindex.
TEST(ErrorSignatureTest, IdIsStable) {
  const std::optional<ErrorSignature> signature = SignatureOf(
      "2025-02-11 10:22:37.118 UTC [77104] ERROR:  deadlock detected");
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(signature->normalized, "ERROR: deadlock detected");
  EXPECT_EQ(signature->id, "d7d43238198522c8");
}

TEST(ErrorSignatureTest, SignaturesOfDedupsInFirstSeenOrder) {
  const std::vector<ErrorSignature> signatures = SignaturesOf({
      "Traceback (most recent call last):",
      "2025-02-11 10:22:37.118 UTC [1] ERROR:  deadlock detected",
      "KeyError: 'customer_id'",
      "",
      "2025-02-12 08:00:00.001 UTC [2] ERROR:  deadlock detected",
      "KeyError: 'order_id'",
  });
  EXPECT_THAT(
      signatures,
      ElementsAre(
          Field(&ErrorSignature::normalized, "ERROR: deadlock detected"),
          Field(&ErrorSignature::normalized, "KeyError: <str>")));
}

}  // namespace
}  // namespace deja
