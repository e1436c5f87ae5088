// The AdmissionReview response as JSON text: canonical, complete, and
// never a changed value for bad UTF-8.
#include "admission/review.h"

#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace irsa::admission {
namespace {

using nlohmann::json;

TEST(EncodeReviewResponse, IsCanonicalJsonWithEveryMember) {
  ReviewResponse response;
  response.uid = "uid-\"1\"\n";
  response.patch.add("/spec/volumes/-", R"({"name":"x"})");
  response.warnings = {"first \"warning\"", "second\twarning"};
  response.audit_annotations = {{"b", "2"}, {"a", "1\n"}};
  response.status = ResponseStatus{403, "denied: \"why\"\n"};
  response.allowed = false;
  std::string body = encode_review_response(response);
  json parsed = json::parse(body);
  // Written as nlohmann would write the same document.
  EXPECT_EQ(parsed.dump(), body);
  EXPECT_EQ(parsed["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(parsed["kind"], "AdmissionReview");
  const json& r = parsed["response"];
  EXPECT_EQ(r["uid"], response.uid);
  EXPECT_EQ(r["allowed"], false);
  EXPECT_EQ(r["patchType"], "JSONPatch");
  EXPECT_EQ(r["patch"],
            base64_encode(R"([{"op":"add","path":"/spec/volumes/-","value":{"name":"x"}}])"));
  EXPECT_EQ(r["warnings"], json(response.warnings));
  EXPECT_EQ(r["auditAnnotations"], json({{"a", "1\n"}, {"b", "2"}}));
  EXPECT_EQ(r["status"], json({{"code", 403}, {"message", "denied: \"why\"\n"}}));
}

TEST(EncodeReviewResponse, OmitsWhatIsEmpty) {
  ReviewResponse response;
  response.api_version = "admission.k8s.io/v1beta1";
  response.uid = "u";
  EXPECT_EQ(encode_review_response(response),
            R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview",)"
            R"("response":{"allowed":true,"uid":"u"}})");
}

TEST(EncodeReviewResponse, InvalidUtf8InThePatchIsAnErrorNotAChangedValue) {
  ReviewResponse response;
  response.uid = "u";
  // The patch is written as it is built: a path that is not UTF-8 fails there.
  EXPECT_THROW(response.patch.add("/x\xff", "1"), std::invalid_argument);
  EXPECT_THROW(response.patch.add("/x", "\xff", "1"), std::invalid_argument);
  EXPECT_TRUE(response.patch.empty());
  EXPECT_THROW(mutation::JsonObject().string("k", "\xff"), std::invalid_argument);
  response.patch = {};
  response.warnings = {"bad \xff byte"};
  EXPECT_THAT(encode_review_response(response), testing::HasSubstr("bad \xef\xbf\xbd byte"));
}

}  // namespace
}  // namespace irsa::admission
