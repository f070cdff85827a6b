/* test-gemini.c -- unit tests of the Gemini adapter
 * (daemon/providers/gemini.c).
 * Golden requests (hub request in -> exact URL, headers and a body compared
 * semantically with what the generateContent reference describes), every
 * recorded sample of conformance/providers/gemini/ replayed through parse
 * and stream_feed (whole, split at every byte, byte by byte), google.rpc
 * error bodies through map_error, and malformed or truncated input. */
#include "test.h"
#include "adapter-harness.h"
#include "secret.h"

#include <jansson.h>

extern const struct provider provider_gemini;

/* ------------------------------------------------------------------------
 * Target (the harness is adapter-harness.h)
 */

/* The key goes in x-goog-api-key, never in the URL. */
static const char *const headers[] = {
    "Content-Type: application/json", "x-goog-api-key: test-key", NULL,
};

static const struct ah_target gemini = {
    .prov = &provider_gemini, .preset = "gemini", .model = "gemini-2.5-flash",
    .api_base = "https://generativelanguage.googleapis.com",
    .key = "test-key", .headers = headers, .seq = 42,
    .samples = "providers/gemini",
    .eol = "\r\n",      /* alt=sse: data lines only, CRLF */
};

#define BASE "https://generativelanguage.googleapis.com/v1beta/models/"

/* ------------------------------------------------------------------------
 * Golden requests
 */

TEST(gemini_build_system_roles_merge_config)
{
    ASSERT(ah_golden(&gemini, "{'model':'gemini','temperature':0.2,'top_p':0.8,"
           "'max_tokens':100,'max_completion_tokens':256,'stop':['x'],"
           "'seed':7,'presence_penalty':0.1,'frequency_penalty':0.2,"
           "'user':'u1','n':1,'messages':["
           "{'role':'system','content':'Be brief.'},"
           "{'role':'developer','content':[{'type':'text','text':'Use SI.'}]},"
           "{'role':'user','content':'Hi'},"
           "{'role':'user','content':[{'type':'text','text':'there'}]},"
           "{'role':'assistant','content':'Hello.'},"
           "{'role':'assistant','content':'More?'},"
           "{'role':'user','content':'Yes'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'systemInstruction':{'parts':[{'text':'Be brief.'},{'text':'Use SI."
        "'}]},"
        "'contents':["
        " {'role':'user','parts':[{'text':'Hi'},{'text':'there'}]},"
        " {'role':'model','parts':[{'text':'Hello.'},{'text':'More?'}]},"
        " {'role':'user','parts':[{'text':'Yes'}]}],"
        "'generationConfig':{'temperature':0.2,'topP':0.8,"
        " 'maxOutputTokens':256,'stopSequences':['x'],'seed':7,"
        " 'presencePenalty':0.1,'frequencyPenalty':0.2}}"));
}

TEST(gemini_build_stream_url_and_model_names)
{
    struct ah f;

    ASSERT(ah_golden(&gemini, "{'stream':true,'stream_options':{'include_usage':true},"
           "'stop':'END','messages':[{'role':'user','content':'Hi'}]}", 1, 0, BASE "gemini-2.5-flash:streamGenerateContent?alt=sse",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'stopSequences':['END']}}"));
    ah_init(&f, &gemini, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.upstream_model = (char *)"models/gemini-2.0-flash";
    ASSERT(ah_request_is(&f, BASE "gemini-2.0-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    ah_free(&f);
    /* Anything outside the unreserved set is percent-encoded. */
    ah_init(&f, &gemini, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.upstream_model = (char *)"text+delay:5/x y";
    ASSERT(ah_request_is(&f, BASE "text%2Bdelay%3A5%2Fx%20y:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    ah_free(&f);
    ah_init(&f, &gemini, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.api_version = (char *)"v1alpha";
    f.dep.preset = NULL;
    f.dep.api_base = (char *)"http://127.0.0.1:9";
    ASSERT(ah_request_is(&f, "http://127.0.0.1:9/v1alpha/models/"
                    "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    ah_free(&f);
    ah_init(&f, &gemini, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.preset = NULL;
    f.dep.api_base = (char *)"http://127.0.0.1:9/v1beta";
    ASSERT(ah_request_is(&f, "http://127.0.0.1:9/v1beta/models/"
                    "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    ah_free(&f);
}

TEST(gemini_build_images)
{
    struct ah f;

    ah_init(&f, &gemini, "{'messages':[{'role':'user','content':["
            "{'type':'text','text':'Compare'},"
            "{'type':'image_url','image_url':{'url':"
            "'data:image/png;base64,iVBORw0KGgo='}},"
            "{'type':'image_url','image_url':{'url':"
            "'https://example.com/cat.JPG?s=1'}},"
            "{'type':'image_url','image_url':{'url':'https://example.com/image"
            "'}}]}]}",
            0);
    ASSERT(ah_request_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':["
        " {'text':'Compare'},"
        " {'inlineData':{'mimeType':'image/png','data':'iVBORw0KGgo='}},"
        " {'fileData':{'mimeType':'image/jpeg',"
        "              'fileUri':'https://example.com/cat.JPG?s=1'}},"
        " {'fileData':{'fileUri':'https://example.com/image'}}]}]}"));
    ah_free(&f);
    ASSERT(ah_refused(&gemini, "{'messages':[{'role':'user','content':["
                      "{'type':'image_url','image_url':{'url':'file:///etc/pas"
                      "swd'}}]}]}",
                      LLMUX_EBADREQ, "image_url"));
    ASSERT(ah_refused(&gemini, "{'messages':[{'role':'user','content':["
                      "{'type':'image_url','image_url':{'url':'data:image/png,"
                      "raw'}}]}]}",
                      LLMUX_EBADREQ, "base64"));
}

TEST(gemini_build_tools_calls_and_results)
{
    ASSERT(ah_golden(&gemini, "{'tool_choice':{'type':'function','function':{'name':"
           "'get_weather'}},"
           "'parallel_tool_calls':true,"
           "'tools':[{'type':'function','function':{'name':'get_weather',"
           "  'description':'Weather for a city','strict':true,"
           "  'parameters':{'type':'object','properties':{'city':{'type':"
           "'string'}},"
           "                'required':['city'],'additionalProperties"
           "':false}}},"
           " {'type':'function','function':{'name':'now'}}],"
           "'messages':["
           "{'role':'user','content':'Weather in Paris and Rome?'},"
           "{'role':'assistant','content':'Checking.','tool_calls':["
           "  {'id':'call_1','type':'function','function':{'name':'get_weather"
           "',"
           "   'arguments':'{\\'city\\':\\'Paris\\'}'}},"
           "  {'id':'call_2','type':'function','function':{'name':'get_weather"
           "',"
           "   'arguments':'{\\'city\\':\\'Rome\\'}'}}]},"
           "{'role':'tool','tool_call_id':'call_1','content':'{\\'temp\\':18}"
           "'},"
           "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text',"
           "'text':'21C'}]},"
           "{'role':'user','content':'And now?'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'tools':[{'functionDeclarations':["
        "  {'name':'get_weather','description':'Weather for a city',"
        "   'parametersJsonSchema':{'type':'object',"
        "     'properties':{'city':{'type':'string'}},'required':['city'],"
        "     'additionalProperties':false}},"
        "  {'name':'now'}]}],"
        "'toolConfig':{'functionCallingConfig':{'mode':'ANY',"
        "  'allowedFunctionNames':['get_weather']}},"
        "'contents':["
        " {'role':'user','parts':[{'text':'Weather in Paris and Rome?'}]},"
        " {'role':'model','parts':[{'text':'Checking.'},"
        "   {'functionCall':{'name':'get_weather','args':{'city':'Paris'}}},"
        "   {'functionCall':{'name':'get_weather','args':{'city':'Rome'}}}]},"
        " {'role':'user','parts':["
        "   {'functionResponse':{'name':'get_weather','response':{'temp':18}}}"
        ","
        "   {'functionResponse':{'name':'get_weather','response':{'content':"
        "'21C'}}},"
        "   {'text':'And now?'}]}]}"));
}

TEST(gemini_build_tool_choice_forms)
{
    static const char *const in[] = { "auto", "none", "required" };
    static const char *const out[] = { "AUTO", "NONE", "ANY" };
    char req[512], body[512];
    struct ah f;

    for (size_t i = 0; i < 3; i++) {
        snprintf(req, sizeof(req), "{'tool_choice':'%s','tools':[{'type':"
                 "'function','function':{'name':'now'}}],'messages':[{'role'"
                 ":'user','content':'t?'}]}", in[i]);
        snprintf(body, sizeof(body), "{'tools':[{'functionDeclarations':[{"
                 "'name':'now'}]}],'toolConfig':{'functionCallingConfig':{"
                 "'mode':'%s'}},'contents':[{'role':'user','parts':[{'text':"
                 "'t?'}]}]}", out[i]);
        ah_init(&f, &gemini, req, 0);
        ASSERT(ah_request_is(&f, BASE "gemini-2.5-flash:generateContent", body));
        ah_free(&f);
    }
    ASSERT(ah_refused(&gemini, "{'tool_choice':{'type':'function'},"
                      "'messages':[{'role':'user','content':'t?'}]}",
                      LLMUX_EBADREQ, "tool_choice"));
}

TEST(gemini_build_gemini3_signature_placeholder)
{
    struct ah f;

    ah_init(&f, &gemini, "{'tools':[{'type':'function','function':{'name':'f'}"
                         "}],"
            "'messages':["
            "{'role':'user','content':'Go'},"
            "{'role':'assistant','tool_calls':["
            "  {'id':'a','type':'function','function':{'name':'f','arguments':"
            "'"
            "{}'}},"
            "  {'id':'b','type':'function','function':{'name':'f','arguments':"
            "'"
            "'}}]},"
            "{'role':'tool','tool_call_id':'a','content':'1'},"
            "{'role':'tool','tool_call_id':'b','content':'2'}]}", 0);
    f.dep.upstream_model = (char *)"gemini-3-pro-preview";
    ASSERT(ah_request_is(&f, BASE "gemini-3-pro-preview:generateContent",
        "{'tools':[{'functionDeclarations':[{'name':'f'}]}],"
        "'contents':["
        " {'role':'user','parts':[{'text':'Go'}]},"
        " {'role':'model','parts':["
        "   {'functionCall':{'name':'f','args':{}},"
        "    'thoughtSignature':'skip_thought_signature_validator'},"
        "   {'functionCall':{'name':'f','args':{}}}]},"
        " {'role':'user','parts':["
        "   {'functionResponse':{'name':'f','response':{'content':'1'}}},"
        "   {'functionResponse':{'name':'f','response':"
        "     {'content':'2'}}}]}]}"));
    ah_free(&f);
}

TEST(gemini_build_json_mode)
{
    ASSERT(ah_golden(&gemini, "{'response_format':{'type':'json_object'},"
           "'messages':[{'role':'user','content':'JSON please'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'JSON please'}]}],"
        "'generationConfig':{'responseMimeType':'application/json'}}"));
    ASSERT(ah_golden(&gemini, "{'response_format':{'type':'json_schema','json_schem"
           "a':{"
           "'name':'city','strict':true,'schema':{'type':'object',"
           "'properties':{'name':{'type':'string'}},'required':['name'],"
           "'additionalProperties':false}}},"
           "'messages':[{'role':'user','content':'A city?'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'A city?'}]}],"
        "'generationConfig':{'responseMimeType':'application/json',"
        " 'responseJsonSchema':{'type':'object',"
        "   'properties':{'name':{'type':'string'}},'required':['name'],"
        "   'additionalProperties':false}}}"));
    ASSERT(ah_golden(&gemini, "{'response_format':{'type':'text'},"
           "'messages':[{'role':'user','content':'x'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'x'}]}]}"));
    ASSERT(ah_refused(&gemini, "{'response_format':{'type':'yaml'},"
                      "'messages':[{'role':'user','content':'x'}]}",
                      LLMUX_EBADREQ, "yaml"));
}

TEST(gemini_build_thinking)
{
    ASSERT(ah_golden(&gemini, "{'reasoning_effort':'low',"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'thinkingConfig':{'thinkingBudget':1024,"
        " 'includeThoughts':true}}}"));
    ASSERT(ah_golden(&gemini, "{'reasoning_effort':'high','max_tokens':9000,"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'maxOutputTokens':9000,"
        " 'thinkingConfig':{'thinkingBudget':4096,'includeThoughts':true}}}"));
    ASSERT(ah_golden(&gemini, "{'reasoning_effort':'none',"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'thinkingConfig':{'thinkingBudget':0}}}"));
    ASSERT(ah_golden(&gemini, "{'thinking':{'type':'enabled','budget_tokens':3000},"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'thinkingConfig':{'thinkingBudget':3000,"
        " 'includeThoughts':true}}}"));
    ASSERT(ah_refused(&gemini, "{'reasoning_effort':'max',"
                      "'messages':[{'role':'user','content':'Hi'}]}",
                      LLMUX_EBADREQ, "reasoning_effort"));
}

TEST(gemini_build_unsupported_param)
{
    ASSERT(ah_unsupported(&gemini, "{'logit_bias':{'1':2},"
                          "'messages':[{'role':'user','content':'Hi'}]}",
                          "logit_bias"));
    /* Gemini cannot be told to make one call at a time. */
    ASSERT(ah_unsupported(&gemini, "{'parallel_tool_calls':false,"
                          "'messages':[{'role':'user','content':'Hi'}]}",
                          "parallel_tool_calls"));
    /* With drop_params both go, silently. */
    ASSERT(ah_golden(&gemini, "{'logit_bias':{'1':2},'parallel_tool_calls':false,"
                     "'messages':[{'role':'user','content':'Hi'}]}", 0, 1,
        BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
}

TEST(gemini_build_bad_requests)
{
    struct ah f;

    ASSERT(ah_refused(&gemini, "{'messages':[{'role':'tool','tool_call_id':"
                               "'nope',"
                      "'content':'x'}]}",
                      LLMUX_EBADREQ, "tool_call_id"));
    /* Without a matching call, the message's own name will do. */
    ASSERT(ah_golden(&gemini, "{'messages':[{'role':'tool','tool_call_id':'nope',"
           "'name':'f','content':'[1,2]'}]}", 0, 0, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'functionResponse':{"
        "'name':'f','response':{'content':'[1,2]'}}}]}]}"));
    ASSERT(ah_refused(&gemini, "{'messages':[{'role':'assistant','tool_calls':"
                               "[{'id':'a',"
                      "'function':{'name':'f','arguments':'42'}}]}]}",
                      LLMUX_EBADREQ, "arguments"));
    ASSERT(ah_refused(&gemini,
                      "{'messages':[{'role':'critic','content':'x'}]}",
                      LLMUX_EBADREQ, "critic"));
    ah_init(&f, &gemini, "{'messages':[{'role':'user','content':'x'}]}", 0);
    secret_free(f.dep.api_key);
    f.dep.api_key = NULL;
    ASSERT(ah_build_fails(&f, LLMUX_EAUTH, "GEMINI_API_KEY"));
    ah_free(&f);
}

/* ------------------------------------------------------------------------
 * Recorded bodies
 */

#define CHOICE(c)  json_array_get(json_object_get((c), "choices"), 0)
#define MESSAGE(c) json_object_get(CHOICE(c), "message")
#define FINISH(c)  json_string_value(json_object_get(CHOICE(c), \
                                                     "finish_reason"))

TEST(gemini_parse_text)
{
    struct ah f;
    json_t *c;
    int rc;

    ah_init(&f, &gemini, NULL, 0);
    rc = ah_parse_sample(&f, "nonstream_text.json", &c);
    ASSERT_EQ(rc, 0);
    ASSERT(ah_expect(c, "{'object':'chat.completion',"
        "'model':'gemini-2.0-flash','usage':{'prompt_tokens':7,"
        "'completion_tokens':22,'total_tokens':29}}"));
    ASSERT(strncmp(ah_str(c, "id"), "chatcmpl-",
                   9) == 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(MESSAGE(c), "content")),
                  "Google's headquarters, also known as the Googleplex, is "
                  "located in **Mountain View, California**.\n");
    ASSERT(json_object_get(MESSAGE(c), "tool_calls") == NULL);
    ASSERT_STR_EQ(FINISH(c), "stop");
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    ah_free(&f);
}

TEST(gemini_parse_thinking_function_call)
{
    struct ah f;
    json_t *c, *m;
    int rc;

    ah_init(&f, &gemini, NULL, 0);
    rc = ah_parse_sample(&f, "nonstream_thinking_function_call.json", &c);
    ASSERT_EQ(rc, 0);
    m = MESSAGE(c);
    ASSERT_STR_EQ(ah_str(c, "id"),
                  "38CHaLjMG6TujrEPtvTiuQk");
    ASSERT(json_is_null(json_object_get(m, "content")));
    ASSERT(strncmp(ah_str(m, "reasoning_content"),
                   "**Thinking Through the New Year's Eve Calculation**",
                   51) == 0);
    /* The thoughtSignature stays out of the hub message. */
    ASSERT(ah_same_text(json_object_get(m, "tool_calls"),
        "[{'id':'call_2a_0','type':'function',"
        "  'function':{'name':'now','arguments':'{}'}}]"));
    {
        char *dump = json_dumps(c, 0);

        ASSERT(dump && strstr(dump, "thoughtSignature") == NULL &&
               strstr(dump, "CtQOAVSoXO74") == NULL);
        free(dump);
    }
    ASSERT_STR_EQ(FINISH(c), "tool_calls");
    /* candidatesTokenCount + thoughtsTokenCount = completion_tokens. */
    ASSERT(ah_same_text(json_object_get(c, "usage"),
        "{'prompt_tokens':38,'completion_tokens':509,'total_tokens':547,"
        "'completion_tokens_details':{'reasoning_tokens':501}}"));
    json_decref(c);
    ah_free(&f);
}

TEST(gemini_parse_parallel_function_calls)
{
    struct ah f;
    json_t *c;
    int rc;

    ah_init(&f, &gemini, NULL, 0);
    rc = ah_parse_sample(&f, "nonstream_parallel_function_calls.vertexai.json",
                         &c);
    ASSERT_EQ(rc, 0);
    ASSERT(ah_same_text(MESSAGE(c),
        "{'role':'assistant','content':null,'tool_calls':["
        " {'id':'call_2a_0','type':'function','function':{'name':'sum',"
        "   'arguments':'{\\'y\\':1,\\'x\\':2}'}},"
        " {'id':'call_2a_1','type':'function','function':{'name':'sum',"
        "   'arguments':'{\\'y\\':3,\\'x\\':4}'}},"
        " {'id':'call_2a_2','type':'function','function':{'name':'sum',"
        "   'arguments':'{\\'y\\':5,\\'x\\':6}'}}]}"));
    ASSERT_STR_EQ(FINISH(c), "tool_calls");
    ASSERT(json_object_get(c, "usage") == NULL);
    ASSERT(f.pc.usage == NULL);
    json_decref(c);
    ah_free(&f);
}

TEST(gemini_parse_blocked_and_filtered)
{
    static const char blocked[] =
        "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":"
        "{\"promptTokenCount\":7,\"totalTokenCount\":7}}";
    static const char filtered[] =
        "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":3,"
        "\"totalTokenCount\":10,\"cachedContentTokenCount\":4}}";
    static const char maxed[] =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Lo\"}]},"
        "\"finishReason\":\"MAX_TOKENS\"}]}";
    struct ah f;
    json_t *c;

    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_parse(&f, blocked, sizeof(blocked) - 1, &c), LLMUX_EPOLICY);
    ASSERT(strstr(f.pc.err.message, "SAFETY") != NULL);
    ah_free(&f);
    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_parse(&f, filtered, sizeof(filtered) - 1, &c), 0);
    ASSERT(json_is_null(json_object_get(MESSAGE(c), "content")));
    ASSERT_STR_EQ(FINISH(c), "content_filter");
    ASSERT(ah_same_text(json_object_get(c, "usage"),
        "{'prompt_tokens':7,'completion_tokens':3,'total_tokens':10,"
        "'prompt_tokens_details':{'cached_tokens':4}}"));
    json_decref(c);
    ah_free(&f);
    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_parse(&f, maxed, sizeof(maxed) - 1, &c), 0);
    ASSERT_STR_EQ(FINISH(c), "length");
    json_decref(c);
    ah_free(&f);
}

TEST(gemini_parse_malformed)
{
    static const char *const bodies[] = {
        "", "<html>", "[]", "{\"candidates\":", "{\"candidates\":[]}",
        "{\"candidates\":[7]}",
    };

    ASSERT(ah_parse_cases(&gemini, bodies, sizeof(bodies) / sizeof(bodies[0]),
                          LLMUX_EUNAVAIL, "malformed"));
}

/* ------------------------------------------------------------------------
 * Recorded streams
 */

TEST(gemini_stream_text)
{
    json_t *w = ah_replay_sample(&gemini, NULL, "stream_text.sse", 1);

    ASSERT(ah_expect(w, "{'rc':0,'reasoning':null,'tools.#':0,"
        "'finish':'stop','nfinish':1,'bad':0,'usage':{'prompt_tokens':7,"
        "'completion_tokens':10,'total_tokens':17}}"));
    ASSERT_STR_EQ(ah_str(w, "content"),
                  "The capital of Wyoming is **Cheyenne**.\n");
    json_decref(w);
}

TEST(gemini_stream_chunk_shape)
{
    size_t n;
    char *p = ah_stream_sample(&gemini, "stream_thinking_function_call.sse",
                               &n);
    json_t *w = p ? ah_replay_whole(&gemini, NULL, p, n) : NULL;

    /* responseId and modelVersion name the chunks; a call arrives whole:
     * a start, then all its arguments, then the finish. */
    ASSERT(ah_expect(w, "{'feed':0,'end':0,'chunks.#':5,"
        "'chunks.0.id':'48SHaPHpHKbG-8YPtZCawAk',"
        "'chunks.0.model':'gemini-2.5-flash',"
        "'chunks.0.choices.0.delta.role':'assistant',"
        "'chunks.2.choices':[{'index':0,'finish_reason':null,"
        " 'delta':{'tool_calls':[{'index':0,'id':'call_2a_0',"
        " 'type':'function','function':{'name':'now','arguments':''}}]}}],"
        "'chunks.3.choices':[{'index':0,'finish_reason':null,"
        " 'delta':{'tool_calls':[{'index':0,"
        " 'function':{'arguments':'{}'}}]}}],"
        "'chunks.4.choices':[{'index':0,'finish_reason':'tool_calls',"
        " 'delta':{}}]}"));
    json_decref(w);
    free(p);
}

TEST(gemini_stream_function_call)
{
    json_t *w = ah_replay_sample(&gemini, NULL, "stream_function_call.sse", 1);

    ASSERT(ah_expect(w, "{'rc':0,'content':null,'tools.#':1,"
        "'tools.0.name':'getTemperature','tools.0.id':'call_2a_0',"
        "'tools.0.arguments':{'city':'San Jose'},'finish':'tool_calls',"
        "'bad':0,'usage':null}"));
    json_decref(w);
}

TEST(gemini_stream_thinking_function_call)
{
    json_t *w = ah_replay_sample(&gemini, NULL,
                                 "stream_thinking_function_call.sse", 1);
    const char *r;

    ASSERT(w != NULL);
    ASSERT_EQ(ah_int(w, "rc"), 0);
    r = ah_str(w, "reasoning");
    ASSERT(r != NULL);
    ASSERT(strncmp(r, "**Calculating the Days**\n\nI've determined", 41) ==
           0);
    ASSERT(strstr(r, "time difference.\n\n\n**Determining the Approach**") !=
           NULL);
    ASSERT(strlen(r) > 30 &&
           strcmp(r + strlen(r) - 30, "after getting today's date.\n\n\n")
           == 0);
    ASSERT(ah_expect(w, "{'content':null,'tools.0.name':'now',"
        "'tools.0.arguments':{},'finish':'tool_calls','bad':0,"
        "'usage':{'prompt_tokens':38,'completion_tokens':174,"
        "'total_tokens':212,"
        "'completion_tokens_details':{'reasoning_tokens':168}}}"));
    json_decref(w);
}

TEST(gemini_stream_function_call_gemini3)
{
    json_t *w = ah_replay_sample(&gemini, NULL,
                                 "stream_function_call_gemini3.chunks.jsonl",
                                 1);

    ASSERT(ah_expect(w, "{'rc':0,'content':null,'tools.#':1,"
        "'tools.0.name':'weather',"
        "'tools.0.arguments':{'location':'San Francisco'}}"));
    /* STOP comes in a later event than the call: still tool_calls. */
    ASSERT(ah_expect(w, "{'finish':'tool_calls','bad':0,"
        "'usage':{'prompt_tokens':29,'completion_tokens':60,"
        "'total_tokens':89,"
        "'completion_tokens_details':{'reasoning_tokens':45}}}"));
    json_decref(w);
}

TEST(gemini_stream_errors)
{
    static const struct ah_stream_case cases[] = {
        { "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
          "\"trunc\r\n\r\n", LLMUX_EUNAVAIL, "malformed" },
        { "data: {\"error\": {\"code\": 500, \"message\": \"An internal error "
          "has occurred.\", \"status\": \"INTERNAL\"}}\r\n\r\n",
          LLMUX_EUNAVAIL, "An internal error has occurred. (INTERNAL)" },
        { "data: {\"error\": {\"code\": 429, \"message\": \"Quota\", "
          "\"status\": \"RESOURCE_EXHAUSTED\"}}\r\n\r\n", LLMUX_ERATELIMIT,
          "Quota" },
        { "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\""
          "}, \"usageMetadata\": {\"promptTokenCount\": 7}}\r\n\r\n",
          LLMUX_EPOLICY, "PROHIBITED_CONTENT" },
        { "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
          "\"half\"}]}}]}\r\n\r\n", LLMUX_EUNAVAIL, "truncated" },
        { "", LLMUX_EUNAVAIL, "truncated" },
    };

    ASSERT(ah_stream_cases(&gemini, cases, sizeof(cases) / sizeof(cases[0])));
}

TEST(gemini_stream_safety_finish)
{
    static const char s[] =
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
        "\"Well\"}],\"role\": \"model\"}}]}\r\n\r\n"
        "data: {\"candidates\": [{\"finishReason\": \"SAFETY\",\"index\": 0}],"
        "\"usageMetadata\": {\"promptTokenCount\": 7,\"candidatesTokenCount\":"
        " 3,\"totalTokenCount\": 10}}\r\n\r\n";
    json_t *w = ah_replay_whole(&gemini, NULL, s, sizeof(s) - 1);

    ASSERT(ah_expect(w, "{'rc':0,'content':'Well',"
        "'finish':'content_filter','bad':0}"));
    json_decref(w);
}

TEST(gemini_stream_prefixes_and_noise)
{
    static const char *const names[] = {
        "stream_text.sse", "stream_function_call.sse",
        "stream_thinking_function_call.sse",
        "stream_function_call_gemini3.chunks.jsonl",
        NULL,
    };

    ASSERT(ah_stream_noise(&gemini, names, 5, 777));
}

/* ------------------------------------------------------------------------
 * Errors
 */

static char *error_sample(const char *name)
{
    char rel[256];

    snprintf(rel, sizeof(rel), "providers/gemini/%s", name);
    return test_read_file(conformance_path(rel), NULL);
}

TEST(gemini_error_400_api_key_invalid)
{
    char *body = error_sample("error_400_api_key_invalid.json");
    struct ah f;

    ASSERT(body != NULL);
    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 400, body, -1), LLMUX_EAUTH);
    ASSERT_EQ(f.pc.err.status, 400);
    ASSERT(f.pc.err.retry_after < 0);
    ASSERT_STR_EQ(f.pc.err.message, "gemini: API key not valid. Please pass "
                  "a valid API key. (INVALID_ARGUMENT)");
    /* The DebugInfo detail echoes the key; it never reaches the message. */
    ASSERT(strstr(f.pc.err.message, "key1234") == NULL);
    free(body);
    ah_free(&f);
}

TEST(gemini_error_404_model_not_found)
{
    char *body = error_sample("error_404_model_not_found.json");
    struct ah f;

    ASSERT(body != NULL);
    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 404, body, -1), LLMUX_ENOTFOUND);
    ASSERT(strstr(f.pc.err.message, "models/gemini-5.0-flash is not found")
           != NULL);
    ASSERT(strstr(f.pc.err.message, "ORIGINAL ERROR") == NULL);
    free(body);
    ah_free(&f);
}

TEST(gemini_error_429_resource_exhausted)
{
    char *body = error_sample("error_429_resource_exhausted.json");
    static const char b13[] = "{\"error\":{\"code\":429,\"message\":\"Quota "
        "exceeded\",\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
        "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":"
        "\"13s\"}]}}";
    struct ah f;

    ASSERT(body != NULL);
    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 429, body, -1), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after > 34.39 && f.pc.err.retry_after < 34.41);
    ASSERT(strstr(f.pc.err.message, "You exceeded your current quota") !=
           NULL);
    ah_free(&f);
    /* A Retry-After header wins over the body's hint. */
    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 429, body, 5), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after == 5);
    ah_free(&f);
    ah_init(&f, &gemini, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 429, b13, -1), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after == 13);
    ah_free(&f);
    free(body);
}

TEST(gemini_error_shapes)
{
    static const struct ah_error_case cases[] = {
        { 400, "{\"error\":{\"code\":400,\"message\":\"The input token count "
               "(1234567) exceeds the maximum number of tokens allowed "
               "(1048576).\",\"status\":\"INVALID_ARGUMENT\"}}",
          LLMUX_ECONTEXT },
        { 400, "{\"error\":{\"code\":400,\"message\":\"Request contains an "
               "invalid argument.\",\"status\":\"INVALID_ARGUMENT\"}}",
          LLMUX_EBADREQ },
        { 403, "{\"error\":{\"code\":403,\"message\":\"The caller does not "
               "have permission\",\"status\":\"PERMISSION_DENIED\"}}",
          LLMUX_EPERMISSION },
        { 401, "{\"error\":{\"code\":401,\"message\":\"no\",\"status\":"
               "\"UNAUTHENTICATED\"}}", LLMUX_EAUTH },
        { 500, "{\"error\":{\"code\":500,\"message\":\"An internal error has "
               "occurred.\",\"status\":\"INTERNAL\"}}", LLMUX_EUNAVAIL },
        { 503, "{\"error\":{\"code\":503,\"message\":\"The model is "
               "overloaded. Please try again later.\",\"status\":"
               "\"UNAVAILABLE\"}}", LLMUX_EUNAVAIL },
        { 504, "{\"error\":{\"code\":504,\"message\":\"Deadline expired\","
               "\"status\":\"DEADLINE_EXCEEDED\"}}", LLMUX_ETIMEOUT },
        { 429, "[{\"error\":{\"code\":429,\"message\":\"q\",\"status\":"
               "\"RESOURCE_EXHAUSTED\"}}]", LLMUX_ERATELIMIT },
        { 502, "<html>Bad Gateway</html>", LLMUX_EUNAVAIL },
        { 404, "", LLMUX_ENOTFOUND },
    };

    ASSERT(ah_error_cases(&gemini, cases, sizeof(cases) / sizeof(cases[0]),
                          3));
}
