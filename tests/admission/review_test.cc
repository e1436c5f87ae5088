// AdmissionReview decode (both API versions, what makes a body not a review)
// and encode (patch only when there is one, echoes, denials), and base64.
#include "admission/review.h"

#include <gtest/gtest.h>

#include <string>

namespace irsa::admission {
namespace {

using nlohmann::json;

json review(std::string_view api_version = kApiVersionV1) {
  return {
      {"apiVersion", api_version},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
        {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
        {"namespace", "team-a"},
        {"operation", "CREATE"},
        {"dryRun", true},
        {"object",
         {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", "web"}}},
          {"spec", {{"containers", {{{"name", "app"}, {"image", "nginx"}}}}}}}}}},
  };
}

class DecodeReview : public ::testing::Test {
 protected:
  Result<ReviewRequest> decode(std::string_view body) { return decode_review(parser_, body); }
  Result<ReviewRequest> decode(const json& body) {
    text_ = body.dump();
    return decode_review(parser_, text_);
  }
  // The reason for a body that must be refused; fails the test otherwise.
  std::string refusal(std::string_view body) {
    auto request = decode(body);
    EXPECT_FALSE(request.ok()) << body;
    return request.ok() ? "" : request.error();
  }
  std::string refusal(const json& body) { return refusal(std::string_view(text_ = body.dump())); }

  simdjson::dom::parser parser_;
  std::string text_;
};

TEST_F(DecodeReview, ReadsEveryRequestFieldOfV1) {
  auto request = decode(review());
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_EQ(request->api_version, kApiVersionV1);
  EXPECT_EQ(request->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(request->namespace_name, "team-a");
  EXPECT_EQ(request->operation, "CREATE");
  EXPECT_EQ(request->sub_resource, "");
  EXPECT_TRUE(request->dry_run);
  ASSERT_TRUE(request->kind.has_value());
  EXPECT_EQ(request->kind->group, "");
  EXPECT_EQ(request->kind->version, "v1");
  EXPECT_EQ(request->kind->kind, "Pod");
  ASSERT_TRUE(request->object.has_value());
  std::string_view name;
  ASSERT_EQ((*request->object)["metadata"]["name"].get(name), simdjson::SUCCESS);
  EXPECT_EQ(name, "web");
}

TEST_F(DecodeReview, ReadsV1beta1) {
  auto request = decode(review(kApiVersionV1beta1));
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_EQ(request->api_version, kApiVersionV1beta1);
  EXPECT_EQ(request->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
}

TEST_F(DecodeReview, OptionalFieldsMayBeAbsentOrNull) {
  json body = review();
  body["request"] = {{"uid", "u"}, {"namespace", nullptr}, {"object", nullptr}};
  auto request = decode(body);
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_EQ(request->namespace_name, "");
  EXPECT_EQ(request->operation, "");
  EXPECT_FALSE(request->dry_run);
  EXPECT_FALSE(request->kind.has_value());
  EXPECT_FALSE(request->object.has_value());
}

TEST_F(DecodeReview, AnObjectThatIsNotAPodStillDecodes) {
  json body = review();
  body["request"]["object"] = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}};
  auto request = decode(body);
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_TRUE(request->object.has_value());
}

TEST_F(DecodeReview, RefusesBodiesThatAreNotJson) {
  EXPECT_NE(refusal(std::string_view("")).find("not JSON"), std::string::npos);
  EXPECT_NE(refusal(std::string_view("garbage")).find("not JSON"), std::string::npos);
  std::string truncated = review().dump();
  truncated.resize(truncated.size() / 2);
  EXPECT_NE(refusal(std::string_view(truncated)).find("not JSON"), std::string::npos);
  EXPECT_NE(refusal(std::string_view("{\"a\": \"\xff\"}")).find("not JSON"), std::string::npos);
}

TEST_F(DecodeReview, RefusesJsonThatIsNotAReview) {
  EXPECT_NE(refusal(json::array()).find("expected a JSON object, got an array"), std::string::npos);
  EXPECT_NE(refusal(json("text")).find("expected a JSON object, got a string"), std::string::npos);

  json body = review();
  body.erase("apiVersion");
  EXPECT_NE(refusal(body).find("apiVersion must be admission.k8s.io/v1 or"), std::string::npos);
  body["apiVersion"] = "admission.k8s.io/v2";
  EXPECT_NE(refusal(body).find("got \"admission.k8s.io/v2\""), std::string::npos);
  body["apiVersion"] = 1;
  EXPECT_NE(refusal(body).find("apiVersion must be a string"), std::string::npos);

  body = review();
  body["kind"] = "Pod";
  EXPECT_NE(refusal(body).find("kind must be AdmissionReview, got \"Pod\""), std::string::npos);
  body.erase("kind");
  EXPECT_NE(refusal(body).find("kind must be AdmissionReview, it is missing"), std::string::npos);

  body = review();
  body.erase("request");
  EXPECT_EQ(refusal(body), "AdmissionReview has no request");
  body["request"] = "x";
  EXPECT_EQ(refusal(body), "request must be an object, got a string");

  body = review();
  body["request"].erase("uid");
  EXPECT_EQ(refusal(body), "request.uid is missing");
  body["request"]["uid"] = "";
  EXPECT_EQ(refusal(body), "request.uid is missing");
  body["request"]["uid"] = 7;
  EXPECT_EQ(refusal(body), "request.uid must be a string, got a number");
}

TEST_F(DecodeReview, RefusesRequestFieldsOfTheWrongType) {
  json body = review();
  body["request"]["dryRun"] = "yes";
  EXPECT_EQ(refusal(body), "request.dryRun must be a boolean, got a string");
  body = review();
  body["request"]["kind"] = "Pod";
  EXPECT_EQ(refusal(body), "request.kind must be an object, got a string");
  body = review();
  body["request"]["namespace"] = json::object();
  EXPECT_EQ(refusal(body), "request.namespace must be a string, got an object");
}

TEST_F(DecodeReview, QuotesClientTextOnOneLineAndShort) {
  json body = review();
  body["apiVersion"] = "line\nbreak" + std::string(100, 'x');
  std::string reason = refusal(body);
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  EXPECT_NE(reason.find("line\\x0abreak"), std::string::npos) << reason;
  EXPECT_LT(reason.size(), 160u) << reason;
}

TEST_F(DecodeReview, TheParserCanBeReused) {
  ASSERT_FALSE(decode(std::string_view("{")).ok());
  auto request = decode(review(kApiVersionV1beta1));
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_EQ(request->api_version, kApiVersionV1beta1);
}

TEST_F(DecodeReview, AKeyTwiceInThePodIsReportedWithItsPath) {
  std::string body = review().dump();
  const std::string marker = R"("image":"nginx")";
  ASSERT_NE(body.find(marker), std::string::npos);
  body.replace(body.find(marker), marker.size(), marker + R"(,"image":"evil")");
  auto request = decode(std::string_view(body));
  ASSERT_TRUE(request.ok()) << request.error();
  ASSERT_TRUE(request->duplicate_key.has_value());
  EXPECT_EQ(*request->duplicate_key,
            R"(duplicate key "image" at /request/object/spec/containers/0)");
  EXPECT_EQ(request->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_FALSE(decode(review())->duplicate_key.has_value());
}

TEST_F(DecodeReview, AKeyTwiceInTheEnvelopeOrTheUidTwiceIsNotAReview) {
  std::string body = review().dump();
  std::string doubled_version = R"({"apiVersion":"admission.k8s.io/v1beta1",)" + body.substr(1);
  EXPECT_EQ(
      refusal(std::string_view(doubled_version)),
      R"(body is not an unambiguous AdmissionReview: duplicate key "apiVersion" at the top level)");
  std::string doubled_uid = body;
  doubled_uid.replace(doubled_uid.find(R"("uid")"), 5, R"("uid":"other","uid")");
  EXPECT_EQ(refusal(std::string_view(doubled_uid)),
            R"(body is not an unambiguous AdmissionReview: duplicate key "uid" at /request)");
  // The uid twice is caught even when another key twice comes first.
  std::string both = doubled_uid;
  both.replace(both.find(R"("image")"), 7, R"("image":"x","image")");
  EXPECT_NE(refusal(std::string_view(both)).find(R"(duplicate key "uid" at /request)"),
            std::string::npos);
}

TEST_F(DecodeReview, FindsDuplicatesInLargeObjectsAndEscapesTheirPath) {
  json body = review();
  json annotations = json::object();
  for (int i = 0; i < 200; ++i) annotations["key-" + std::to_string(i)] = "v";
  body["request"]["object"]["metadata"]["annotations"] = annotations;
  EXPECT_FALSE(decode(body)->duplicate_key.has_value()) << "200 distinct keys";
  body["request"]["object"]["metadata"]["annotations"] = json::object();
  body["request"]["object"]["metadata"]["annotations"]["a/b~c"] = {{"key-0", 1}};
  for (int i = 0; i < 40; ++i) {
    body["request"]["object"]["metadata"]["annotations"]["a/b~c"]["key-" + std::to_string(i)] = i;
  }
  std::string text = body.dump();
  text.replace(text.find(R"("key-7")"), 7, R"("key-7":7,"key-7")");
  auto request = decode(std::string_view(text));
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(*request->duplicate_key,
            R"(duplicate key "key-7" at /request/object/metadata/annotations/a~1b~0c)");
}

TEST_F(DecodeReview, QuotesAHostileDuplicateKeyOnOneLineAndShort) {
  json body = review();
  const std::string hostile = "\x1b[31m\r\n" + std::string(500, 'k');
  body["request"]["object"]["metadata"][hostile] = 1;
  std::string text = body.dump();
  const std::string key = json(hostile).dump();
  text.replace(text.find(key), key.size(), key + ":2," + key);
  auto request = decode(std::string_view(text));
  ASSERT_TRUE(request.ok());
  const std::string& message = *request->duplicate_key;
  EXPECT_EQ(message.find_first_of("\x1b\r\n"), std::string::npos) << message;
  EXPECT_NE(message.find(R"("\x1b[31m\x0d\x0akkk)"), std::string::npos) << message;
  EXPECT_LT(message.size(), 200u) << message;
  EXPECT_NE(message.find("...\" at /request/object/metadata"), std::string::npos) << message;
}

TEST(EncodeReviewResponse, CarriesNoPatchWhenNothingChanges) {
  ReviewResponse response;
  response.api_version = std::string(kApiVersionV1beta1);
  response.uid = "u-1";
  json out = json::parse(encode_review_response(response));
  EXPECT_EQ(out, json::parse(R"({"apiVersion": "admission.k8s.io/v1beta1",
                                 "kind": "AdmissionReview",
                                 "response": {"uid": "u-1", "allowed": true}})"));
}

TEST(EncodeReviewResponse, CarriesABase64JsonPatch) {
  ReviewResponse response;
  response.uid = "u-2";
  response.patch.add("/metadata/labels", "{}");
  json out = json::parse(encode_review_response(response));
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(out["response"]["patch"],
            base64_encode(R"([{"op":"add","path":"/metadata/labels","value":{}}])"));
  EXPECT_FALSE(out["response"].contains("warnings"));
  EXPECT_FALSE(out["response"].contains("auditAnnotations"));
  EXPECT_FALSE(out["response"].contains("status"));
}

TEST(EncodeReviewResponse, CarriesWarningsAndAuditAnnotationsWhenSet) {
  ReviewResponse response;
  response.uid = "u-3";
  response.warnings = {"static AWS keys found in container app"};
  response.audit_annotations = {{"irsa-webhook/mutated", "true"}};
  json out = json::parse(encode_review_response(response));
  EXPECT_EQ(out["response"]["warnings"], json::array({"static AWS keys found in container app"}));
  EXPECT_EQ(out["response"]["auditAnnotations"], json({{"irsa-webhook/mutated", "true"}}));
}

TEST(EncodeReviewResponse, DenialEchoesTheRequestAndGivesTheReason) {
  ReviewRequest request;
  request.api_version = kApiVersionV1beta1;
  request.uid = "u-4";
  json out = json::parse(encode_review_response(denial(request, 400, "not a Pod")));
  EXPECT_EQ(out, json::parse(R"({"apiVersion": "admission.k8s.io/v1beta1",
                                 "kind": "AdmissionReview",
                                 "response": {"uid": "u-4", "allowed": false,
                                              "status": {"code": 400, "message": "not a Pod"}}})"));
}

TEST(EncodeReviewResponse, SurvivesInvalidUtf8InAMessage) {
  ReviewResponse response;
  response.uid = "u-5";
  response.allowed = false;
  response.status = ResponseStatus{400, "bad byte \xff here"};
  json out = json::parse(encode_review_response(response));
  EXPECT_EQ(out["response"]["status"]["code"], 400);
}

TEST(Base64Encode, MatchesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Encode, EncodesPiecesAsTheirConcatenation) {
  const std::string text = "[{\"op\":\"add\"},{\"x\":1}]";
  for (std::size_t a = 0; a <= text.size(); ++a) {
    for (std::size_t b = a; b <= text.size(); ++b) {
      std::string out = "prefix:";
      append_base64(out, std::array<std::string_view, 3>{std::string_view(text).substr(0, a),
                                                         std::string_view(text).substr(a, b - a),
                                                         std::string_view(text).substr(b)});
      EXPECT_EQ(out, "prefix:" + base64_encode(text)) << a << " " << b;
    }
  }
}

TEST(EncodeReviewResponse, RefusesToWritePastItsBudget) {
  ReviewResponse response;
  response.uid = "u";
  response.patch.add("/a", std::string(3000, '1'));
  std::string full = encode_review_response(response);
  EXPECT_TRUE(encode_review_response(response, full.size()) == full);
  EXPECT_FALSE(encode_review_response(response, full.size() - 1).has_value());
  EXPECT_FALSE(encode_review_response(response, 1000).has_value());
  EXPECT_TRUE(encode_review_response(response, 0) == full);

  // With every member set, the exact size still fits: the early refusal
  // counts only what the reply takes at least.
  response.warnings = {"one", "two \"quoted\""};
  response.audit_annotations = {{"a", "b"}, {"c", "d\n"}};
  response.status = ResponseStatus{403, "why"};
  response.allowed = false;
  full = encode_review_response(response);
  EXPECT_TRUE(encode_review_response(response, full.size()) == full);
  EXPECT_FALSE(encode_review_response(response, full.size() - 1).has_value());
}

TEST(Denial, CutsAHugeMessage) {
  ReviewRequest request;
  request.api_version = kApiVersionV1;
  request.uid = "u";
  ReviewResponse response = denial(request, 403, std::string(100000, 'x'));
  EXPECT_LT(response.status->message.size(), kMaxStatusMessageBytes + 40);
  EXPECT_NE(response.status->message.find("bytes more)"), std::string::npos);
}

TEST(Base64Encode, EncodesEveryByteValue) {
  EXPECT_EQ(base64_encode(std::string("\x00\xff\xfe", 3)), "AP/+");
  EXPECT_EQ(base64_encode(std::string("\xfb\xff", 2)), "+/8=");
}

}  // namespace
}  // namespace irsa::admission
