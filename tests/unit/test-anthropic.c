/* test-anthropic.c -- unit tests of the Anthropic Messages adapter
 * (daemon/providers/anthropic.c).
 * Golden requests (hub request in -> exact URL, headers and a body compared
 * semantically with what the Messages API reference describes), every
 * recorded sample of conformance/providers/anthropic/ replayed through parse
 * and stream_feed (whole, split at every byte, byte by byte), error bodies
 * through map_error, and malformed or truncated upstream input. */
#include "test.h"
#include "adapter-harness.h"
#include "secret.h"

#include <jansson.h>

extern const struct provider provider_anthropic;

/* ------------------------------------------------------------------------
 * Target (the harness is adapter-harness.h)
 */

static const char *const headers[] = {
    "Content-Type: application/json", "anthropic-version: 2023-06-01",
    "x-api-key: test-key", NULL,
};
static const char *const stream_headers[] = {
    "Content-Type: application/json", "anthropic-version: 2023-06-01",
    "x-api-key: test-key", "Accept: text/event-stream", NULL,
};

static const struct ah_target anthropic = {
    .prov = &provider_anthropic, .preset = "anthropic",
    .model = "claude-sonnet-4-5", .api_base = "https://api.anthropic.com",
    .key = "test-key", .headers = headers, .stream_headers = stream_headers,
    .seq = 42, .samples = "providers/anthropic", .event_key = "type",
    .eol = "\n",
};

#define URL "https://api.anthropic.com/v1/messages"

/* ------------------------------------------------------------------------
 * Golden requests
 */

TEST(anthropic_build_system_roles_merge_stop)
{
    ASSERT(ah_golden(&anthropic, "{'model':'claude','temperature':0.5,'top_p':0.9,"
           "'stop':'END','user':'u1','n':1,"
           "'messages':["
           "{'role':'system','content':'Be brief.'},"
           "{'role':'developer','content':[{'type':'text','text':'Use SI.'}]},"
           "{'role':'user','content':'Hi'},"
           "{'role':'user','content':[{'type':'text','text':'there'}]},"
           "{'role':'assistant','content':'Hello.'},"
           "{'role':'assistant','content':'More?'},"
           "{'role':'user','content':'Yes'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'temperature':0.5,'top_p':0.9,'stop_sequences':['END'],"
        "'system':[{'type':'text','text':'Be brief.'},"
        "          {'type':'text','text':'Use SI.'}],"
        "'messages':["
        " {'role':'user','content':[{'type':'text','text':'Hi'},"
        "                           {'type':'text','text':'there'}]},"
        " {'role':'assistant','content':[{'type':'text','text':'Hello.'},"
        "                                {'type':'text','text':'More?'}]},"
        " {'role':'user','content':[{'type':'text','text':'Yes'}]}]}"));
}

TEST(anthropic_build_max_tokens_and_stream)
{
    ASSERT(ah_golden(&anthropic, "{'model':'claude','max_tokens':100,"
           "'max_completion_tokens':300,'stop':['a','b'],"
           "'stream':true,'stream_options':{'include_usage':true},"
           "'messages':[{'role':'user','content':'Hi'}]}", 1, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':300,'stream':true,"
        "'stop_sequences':['a','b'],"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
}

TEST(anthropic_build_api_base_forms)
{
    struct ah f;

    ah_init(&f, &anthropic,
            "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.api_base = (char *)"http://127.0.0.1:9/proxy/v1";
    f.dep.preset = NULL;
    ASSERT(ah_request_is(&f, "http://127.0.0.1:9/proxy/v1/messages",
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    ah_free(&f);
}

TEST(anthropic_build_images)
{
    struct ah f;

    ah_init(&f, &anthropic, "{'messages':[{'role':'user','content':["
            "{'type':'text','text':'What is this?'},"
            "{'type':'image_url','image_url':{'url':"
            "'data:image/png;base64,iVBORw0KGgo='}},"
            "{'type':'image_url','image_url':{'url':"
            "'https://example.com/cat.jpg'},"
            " 'cache_control':{'type':'ephemeral'}},"
            "{'type':'image_url','image_url':"
            "'data:application/pdf;base64,JVBERi0='}]}]}",
            0);
    ASSERT(ah_request_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':["
        " {'type':'text','text':'What is this?'},"
        " {'type':'image','source':{'type':'base64','media_type':'image/png',"
        "                           'data':'iVBORw0KGgo='}},"
        " {'type':'image','source':{'type':'url',"
        "                           'url':'https://example.com/cat.jpg'},"
        "  'cache_control':{'type':'ephemeral'}},"
        " {'type':'document','source':{'type':'base64',"
        "  'media_type':'application/pdf','data':'JVBERi0='}}]}]}"));
    ah_free(&f);
}

TEST(anthropic_build_bad_image_url)
{
    ASSERT(ah_refused(&anthropic, "{'messages':[{'role':'user','content':["
                      "{'type':'image_url','image_url':{'url':'ftp://x/y.png'}"
                      "}]}]}",
                      LLMUX_EBADREQ, "image_url"));
    ASSERT(ah_refused(&anthropic, "{'messages':[{'role':'user','content':["
                      "{'type':'input_audio','input_audio':{'data':'AA==','for"
                      "mat':'wav"
                      "'}}]}]}",
                      LLMUX_EBADREQ, "input_audio"));
}

TEST(anthropic_build_tools_and_results)
{
    ASSERT(ah_golden(&anthropic, "{'tool_choice':'required','parallel_tool_calls':false,"
           "'tools':[{'type':'function','function':{'name':'get_weather',"
           "  'description':'Weather for a city',"
           "  'parameters':{'type':'object','properties':{'city':{'type':"
           "'string'}},"
           "                'required':['city']}}},"
           " {'type':'function','function':{'name':'now'}}],"
           "'messages':["
           "{'role':'user','content':'Weather in Paris and Rome?'},"
           "{'role':'assistant','content':'Checking.','tool_calls':["
           "  {'id':'toolu_1','type':'function','function':{'name':"
           "'get_weather',"
           "   'arguments':'{\\'city\\':\\'Paris\\'}'}},"
           "  {'id':'toolu_2','type':'function','function':{'name':"
           "'get_weather',"
           "   'arguments':'{\\'city\\':\\'Rome\\'}'}}]},"
           "{'role':'tool','tool_call_id':'toolu_1','content':'18C'},"
           "{'role':'tool','tool_call_id':'toolu_2','content':[{'type':'text',"
           "'text':'21C'}]},"
           "{'role':'user','content':'And now?'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'tools':[{'name':'get_weather','description':'Weather for a city',"
        "          'input_schema':{'type':'object',"
        "             'properties':{'city':{'type':'string'}},'required':['cit"
        "y"
        "']}},"
        "         {'name':'now','input_schema':{'type':'object','properties':"
        "{}}}],"
        "'tool_choice':{'type':'any','disable_parallel_tool_use':true},"
        "'messages':["
        " {'role':'user','content':[{'type':'text','text':'Weather in Paris an"
        "d"
        " Rome?'}]},"
        " {'role':'assistant','content':[{'type':'text','text':'Checking.'},"
        "   {'type':'tool_use','id':'toolu_1','name':'get_weather','input':{"
        "'city':'Paris'}},"
        "   {'type':'tool_use','id':'toolu_2','name':'get_weather','input':{"
        "'city':'Rome'}}]},"
        " {'role':'user','content':["
        "   {'type':'tool_result','tool_use_id':'toolu_1','content':'18C'},"
        "   {'type':'tool_result','tool_use_id':'toolu_2','content':'21C'},"
        "   {'type':'text','text':'And now?'}]}]}"));
}

TEST(anthropic_build_tool_choice_forms)
{
    static const char *const in[] = {
        "'auto'", "'none'",
        "{'type':'function','function':{'name':'now'}}",
    };
    static const char *const out[] = {
        "{'type':'auto'}", "{'type':'none'}", "{'type':'tool','name':'now'}",
    };
    char req[512], body[512];
    struct ah f;

    for (size_t i = 0; i < 3; i++) {
        snprintf(req, sizeof(req), "{'tool_choice':%s,'tools':[{'type':"
                 "'function','function':{'name':'now'}}],'messages':[{'role'"
                 ":'user','content':'t?'}]}", in[i]);
        snprintf(body, sizeof(body), "{'model':'claude-sonnet-4-5',"
                 "'max_tokens':4096,'tool_choice':%s,'tools':[{'name':'now',"
                 "'input_schema':{'type':'object','properties':{}}}],"
                 "'messages':[{'role':'user','content':[{'type':'text',"
                 "'text':'t?'}]}]}", out[i]);
        ah_init(&f, &anthropic, req, 0);
        ASSERT(ah_request_is(&f, URL, body));
        ah_free(&f);
    }
}

TEST(anthropic_build_recorded_request_tools)
{
    /* The request the official SDK sent (recorded_request_tools.json),
     * from the hub request a caller would have written for it. */
    char *rec = test_read_file(conformance_path(
        "providers/anthropic/recorded_request_tools.json"), NULL);
    json_t *want = rec ? json_loads(rec, 0, NULL) : NULL, *got, *tool;
    struct ah f;

    ASSERT(want != NULL);
    free(rec);
    ah_init(&f, &anthropic, "{'max_tokens':1024,'messages':[{'role':'user',"
            "'content':'What is the weather in SF?'}]}", 0);
    f.dep.upstream_model = (char *)"claude-haiku-4-5";
    tool = json_pack("{s:s, s:{s:O, s:O, s:O}}", "type", "function",
                     "function", "name", json_object_get(json_array_get(
                     json_object_get(want, "tools"), 0), "name"),
                     "description", json_object_get(json_array_get(
                     json_object_get(want, "tools"), 0), "description"),
                     "parameters", json_object_get(json_array_get(
                     json_object_get(want, "tools"), 0), "input_schema"));
    json_object_set_new((json_t *)f.pc.req, "tools", json_pack("[o]", tool));
    ASSERT_EQ(ah_build(&f), 0);
    got = json_loadb(f.h.body.p, f.h.body.len, 0, NULL);
    /* The SDK sent the one user text as a string; the adapter always
     * sends blocks, which the API takes as the same thing. */
    json_object_set_new(json_array_get(json_object_get(want, "messages"), 0),
                        "content", json_pack("[{s:s, s:s}]", "type", "text",
                                             "text",
                                             "What is the weather in SF?"));
    ASSERT(ah_same(got, want));
    json_decref(got);
    json_decref(want);
    ah_free(&f);
}

TEST(anthropic_build_thinking_budget)
{
    /* max_tokens must exceed the budget: 1000 <= 2048 is raised. */
    ASSERT(ah_golden(&anthropic, "{'reasoning_effort':'medium','max_tokens':1000,"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':3048,"
        "'thinking':{'type':'enabled','budget_tokens':2048},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    ASSERT(ah_golden(&anthropic, "{'reasoning_effort':'high',"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':8192,"
        "'thinking':{'type':'enabled','budget_tokens':4096},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    ASSERT(ah_golden(&anthropic, "{'reasoning_effort':'low','max_tokens':20000,"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':20000,"
        "'thinking':{'type':'enabled','budget_tokens':1024},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    ASSERT(ah_golden(&anthropic, "{'reasoning_effort':'none',"
           "'messages':[{'role':'user','content':'Hi'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    ASSERT(ah_refused(&anthropic, "{'reasoning_effort':'extreme',"
                      "'messages':[{'role':'user','content':'Hi'}]}",
                      LLMUX_EBADREQ, "reasoning_effort"));
}

TEST(anthropic_build_thinking_blocks_given_back)
{
    ASSERT(ah_golden(&anthropic, "{'reasoning_effort':'low','tools':[{'type':'funct"
           "ion',"
           "'function':{'name':'now'}}],'messages':["
           "{'role':'user','content':'Time?'},"
           "{'role':'assistant','content':null,"
           " 'thinking_blocks':[{'type':'thinking','thinking':'Call now.',"
           "'signature':'c2ln'}],"
           " 'tool_calls':[{'id':'toolu_9','type':'function',"
           "   'function':{'name':'now','arguments':''}}]},"
           "{'role':'tool','tool_call_id':'toolu_9','content':''}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'thinking':{'type':'enabled','budget_tokens':1024},"
        "'tools':[{'name':'now','input_schema':{'type':'object','properties':"
        "{}}}],"
        "'messages':["
        " {'role':'user','content':[{'type':'text','text':'Time?'}]},"
        " {'role':'assistant','content':["
        "   {'type':'thinking','thinking':'Call now.','signature':'c2ln'},"
        "   {'type':'tool_use','id':'toolu_9','name':'now','input':{}}]},"
        " {'role':'user','content':[{'type':'tool_result','tool_use_id':"
        "'toolu_9'}]}]}"));
}

TEST(anthropic_build_json_mode)
{
    ASSERT(ah_golden(&anthropic, "{'response_format':{'type':'json_schema','json_sc"
           "hema':{"
           "'name':'city','schema':{'type':'object','properties':{"
           "'name':{'type':'string'}},'required':['name']}}},"
           "'messages':[{'role':'user','content':'A city?'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'tools':[{'name':'json_tool_call','input_schema':{'type':'object',"
        "  'properties':{'name':{'type':'string'}},'required':['name']}}],"
        "'tool_choice':{'type':'tool','name':'json_tool_call'},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'A city?"
        "'}]}]}"));
    ASSERT(ah_golden(&anthropic, "{'response_format':{'type':'json_object'},"
           "'messages':[{'role':'user','content':'JSON please'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'tools':[{'name':'json_tool_call','input_schema':{'type':'object',"
        "  'additionalProperties':true,'properties':{}}}],"
        "'tool_choice':{'type':'tool','name':'json_tool_call'},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'JSON"
        " please'}]}]}"));
    /* Thinking forbids a forced tool: the tool is offered, not forced. */
    ASSERT(ah_golden(&anthropic, "{'reasoning_effort':'low','max_tokens':5000,"
           "'response_format':{'type':'json_object'},"
           "'messages':[{'role':'user','content':'JSON please'}]}", 0, 0, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':5000,"
        "'thinking':{'type':'enabled','budget_tokens':1024},"
        "'tools':[{'name':'json_tool_call','input_schema':{'type':'object',"
        "  'additionalProperties':true,'properties':{}}}],"
        "'messages':[{'role':'user','content':[{'type':'text','text':'JSON"
        " please'}]}]}"));
    ASSERT(ah_refused(&anthropic, "{'response_format':{'type':'json_schema',"
                                  "'json_schema':{}},"
                      "'messages':[{'role':'user','content':'x'}]}",
                      LLMUX_EBADREQ, "json_schema.schema"));
}

TEST(anthropic_build_unsupported_param)
{
    ASSERT(ah_unsupported(&anthropic, "{'presence_penalty':0.5,"
                          "'messages':[{'role':'user','content':'Hi'}]}",
                          "presence_penalty"));
    ASSERT(ah_unsupported(&anthropic, "{'n':3,"
                          "'messages':[{'role':'user','content':'Hi'}]}",
                          "n"));
    /* With drop_params they go, silently. */
    ASSERT(ah_golden(&anthropic, "{'presence_penalty':0.5,'logit_bias':{'1':2},"
                     "'messages':[{'role':'user','content':'Hi'}]}", 0, 1,
        URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
}

TEST(anthropic_build_bad_requests)
{
    struct ah f;

    ASSERT(ah_refused(&anthropic, "{'messages':[{'role':'tool','content':'x'}]"
                                  "}",
                      LLMUX_EBADREQ, "tool_call_id"));
    ASSERT(ah_refused(&anthropic, "{'messages':[{'role':'assistant',"
                                  "'tool_calls':[{'id':'a',"
                      "'function':{'name':'f','arguments':'[1,'}}]}]}",
                      LLMUX_EBADREQ, "arguments"));
    ASSERT(ah_refused(&anthropic, "{'messages':[{'role':'function','name':'f',"
                                  "'content':'x'}]}",
                      LLMUX_EBADREQ, "function"));
    ASSERT(ah_refused(&anthropic, "{'messages':'hi'}",
                      LLMUX_EBADREQ, "messages"));
    ASSERT(ah_refused(&anthropic, "{'tools':[{'type':'web_search'}],"
                      "'messages':[{'role':'user','content':'x'}]}",
                      LLMUX_EBADREQ, "tools[0]"));
    ah_init(&f, &anthropic, "{'messages':[{'role':'user','content':'x'}]}", 0);
    secret_free(f.dep.api_key);
    f.dep.api_key = NULL;
    ASSERT(ah_build_fails(&f, LLMUX_EAUTH, "ANTHROPIC_API_KEY"));
    ah_free(&f);
}

/* ------------------------------------------------------------------------
 * Recorded bodies
 */

TEST(anthropic_parse_text)
{
    struct ah f;
    json_t *c;
    int rc;

    ah_init(&f, &anthropic, NULL, 0);
    rc = ah_parse_sample(&f, "nonstream_text.json", &c);
    ASSERT_EQ(rc, 0);
    ASSERT(ah_expect(c, "{'id':'msg_01GJyhkguJrrqMbZNzEybYFL',"
        "'object':'chat.completion','model':'claude-haiku-4-5-20251001',"
        "'choices.0.finish_reason':'stop','usage':{'prompt_tokens':760,"
        "'completion_tokens':63,'total_tokens':823,"
        "'prompt_tokens_details':{'cached_tokens':0}}}"));
    ASSERT(strstr(json_string_value(json_object_get(json_object_get(
           json_array_get(json_object_get(c, "choices"), 0), "message"),
           "content")), "I'm getting an error") != NULL);
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    ah_free(&f);
}

TEST(anthropic_parse_tool_use)
{
    struct ah f;
    json_t *c, *m;
    int rc;

    ah_init(&f, &anthropic, NULL, 0);
    rc = ah_parse_sample(&f, "nonstream_tool_use.json", &c);
    ASSERT_EQ(rc, 0);
    m = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
                        "message");
    ASSERT(ah_same_text(m, "{'role':'assistant','content':null,'tool_calls':[{"
        "'id':'toolu_01A9HHF5Ezy3oBrKmSgfASm9','type':'function',"
        "'function':{'name':'get_weather',"
        "'arguments':'{\\'location\\':\\'San Francisco,"
        " CA\\',\\'units\\':\\'f\\'}'}}]}"));
    ASSERT(ah_expect(c, "{'choices.0.finish_reason':'tool_calls',"
        "'usage':{'prompt_tokens':656,'completion_tokens':74,"
        "'total_tokens':730,'prompt_tokens_details':{'cached_tokens':0}}}"));
    json_decref(c);
    ah_free(&f);
}

TEST(anthropic_parse_text_and_tool_use)
{
    struct ah f;
    json_t *c, *m, *args;
    int rc;

    ah_init(&f, &anthropic, NULL, 0);
    rc = ah_parse_sample(&f, "nonstream_text_and_tool_use.json", &c);
    ASSERT_EQ(rc, 0);
    m = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
                        "message");
    ASSERT(strncmp(ah_str(m, "content"),
                   "I'll get the weather for each of those cities.", 46) == 0);
    ASSERT_EQ(json_array_size(json_object_get(m, "tool_calls")), 1);
    ASSERT_STR_EQ(ah_str(m, "tool_calls.0.id"),
                  "toolu_01LRanfq6DmHn1yDTB4d1SAh");
    args = json_loads(json_string_value(json_object_get(json_object_get(
           json_array_get(json_object_get(m, "tool_calls"), 0), "function"),
           "arguments")), 0, NULL);
    ASSERT(ah_same_text(args, "{'location':'San Francisco, CA','units':'f'}"));
    json_decref(args);
    ASSERT_STR_EQ(ah_str(c, "choices.0.finish_reason"),
                  "tool_calls");
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(c, "usage"),
              "total_tokens")), 794);
    json_decref(c);
    ah_free(&f);
}

TEST(anthropic_parse_thinking)
{
    struct ah f;
    json_t *c, *m;
    int rc;

    ah_init(&f, &anthropic, NULL, 0);
    rc = ah_parse_sample(&f, "nonstream_thinking.json", &c);
    ASSERT_EQ(rc, 0);
    m = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
                        "message");
    ASSERT_STR_EQ(ah_str(m, "content"),
                  "925 \xc3\xb7 5 = 185");
    ASSERT_STR_EQ(ah_str(m, "reasoning_content"),
                  "925 divided by 5 = 185");
    ASSERT_EQ(json_array_size(json_object_get(m, "thinking_blocks")), 1);
    ASSERT(strncmp(ah_str(m, "thinking_blocks.0.signature"),
           "Er4BCkYICxgCKkCoxqLH", 20) == 0);
    ASSERT(json_object_get(m, "tool_calls") == NULL);
    ASSERT(ah_same_text(json_object_get(c, "usage"),
        "{'prompt_tokens':69,'completion_tokens':33,'total_tokens':102,"
        "'prompt_tokens_details':{'cached_tokens':0}}"));
    json_decref(c);
    ah_free(&f);
}

TEST(anthropic_parse_cache_and_json_mode)
{
    static const char body[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-x\","
        "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_j\","
        "\"name\":\"json_tool_call\",\"input\":{\"name\":\"Oslo\"}}],"
        "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":10,"
        "\"cache_creation_input_tokens\":100,"
        "\"cache_read_input_tokens\":1000,\"output_tokens\":5}}";
    struct ah f;
    json_t *c;

    ah_init(&f, &anthropic, "{'response_format':{'type':'json_object'}}", 0);
    ASSERT_EQ(ah_parse(&f, body, sizeof(body) - 1, &c), 0);
    ASSERT(ah_same_text(ah_get(c, "choices.0.message"),
        "{'role':'assistant','content':'{\\'name\\':\\'Oslo\\'}'}"));
    ASSERT_STR_EQ(ah_str(c, "choices.0.finish_reason"),
                  "stop");
    /* Every input token counts in prompt_tokens; reads are "cached",
     * writes cache_creation_input_tokens (LiteLLM's usage field, priced
     * at cache_creation_input_token_cost). */
    ASSERT(ah_same_text(json_object_get(c, "usage"),
        "{'prompt_tokens':1110,'completion_tokens':5,'total_tokens':1115,"
        "'prompt_tokens_details':{'cached_tokens':1000},"
        "'cache_creation_input_tokens':100}"));
    json_decref(c);
    ah_free(&f);
}

TEST(anthropic_parse_malformed)
{
    static const char *const bodies[] = {
        "", "not json", "[1,2]", "{\"content\":\"text\"}", "{\"content\":",
        "{\"type\":\"message\"}",
    };

    ASSERT(ah_parse_cases(&anthropic, bodies,
                          sizeof(bodies) / sizeof(bodies[0]),
                          LLMUX_EUNAVAIL, "malformed"));
}

TEST(anthropic_no_usage_reported)
{
    static const char body[] =
        "{\"id\":\"msg_n\",\"model\":\"claude-x\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\"}";
    static const char s[] =
        "event: message_start\ndata: {\"type\":\"message_start\","
        "\"message\":{\"id\":\"m\",\"model\":\"claude-x\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start"
        "\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":"
        "\"ok\"}}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\""
        ":{\"stop_reason\":\"max_tokens\"}}\n\n";
    struct ah f;
    json_t *c, *w;

    ah_init(&f, &anthropic, NULL, 0);
    ASSERT_EQ(ah_parse(&f, body, sizeof(body) - 1, &c), 0);
    ASSERT(json_object_get(c, "usage") == NULL);
    ASSERT(f.pc.usage == NULL);
    json_decref(c);
    ah_free(&f);
    /* No message_stop, but the finish came: a complete answer. */
    w = ah_replay_whole(&anthropic, NULL, s, sizeof(s) - 1);
    ASSERT(ah_expect(w, "{'rc':0,'usage':null,'content':'ok',"
        "'finish':'length'}"));
    json_decref(w);
}

/* ------------------------------------------------------------------------
 * Recorded streams
 */

TEST(anthropic_stream_text)
{
    json_t *w = ah_replay_sample(&anthropic, NULL, "stream_text.sse", 1);

    ASSERT(ah_expect(w, "{'rc':0,'reasoning':null,'tools.#':0,"
        "'finish':'stop','nfinish':1,'bad':0,'usage':{'prompt_tokens':770,"
        "'completion_tokens':38,'total_tokens':808,"
        "'prompt_tokens_details':{'cached_tokens':0}}}"));
    ASSERT_STR_EQ(ah_str(w, "content"),
                  "The weather in San Francisco, CA is currently:\n"
                  "- **Temperature:** 68\xc2\xb0" "F\n- **Condition:** Sunny"
                  "\n\nIt's a nice sunny day!");
    json_decref(w);
}

TEST(anthropic_stream_ids)
{
    size_t n;
    char *p = ah_stream_sample(&anthropic, "stream_text.sse", &n);
    json_t *w = p ? ah_replay_whole(&anthropic, NULL, p, n) : NULL;
    json_t *last = json_array_get(ah_get(w, "chunks"),
                                  json_array_size(ah_get(w, "chunks")) - 1);

    /* The upstream's id and model name the chunks; the first carries the
     * role; the last only the finish reason, and no usage. */
    ASSERT(ah_expect(w, "{'feed':0,'end':0,"
        "'chunks.0.id':'msg_016HxyUMAncysqX7dn1kWNRx',"
        "'chunks.0.model':'claude-haiku-4-5-20251001',"
        "'chunks.0.choices.0.delta.role':'assistant'}"));
    ASSERT(ah_expect(last, "{'choices.0.delta.#':0}"));
    ASSERT(json_object_get(last, "usage") == NULL);
    json_decref(w);
    free(p);
}

TEST(anthropic_stream_tool_use)
{
    json_t *w = ah_replay_sample(&anthropic, NULL, "stream_tool_use.sse", 1);

    ASSERT(ah_expect(w, "{'rc':0,'content':null,'tools.#':1,"
        "'tools.0.id':'toolu_018acGYLtfR52q9yDbWaEdQZ',"
        "'tools.0.name':'get_weather',"
        "'tools.0.arguments':{'location':'San Francisco, CA','units':'f'},"
        "'finish':'tool_calls','bad':0,'usage':{'prompt_tokens':656,"
        "'completion_tokens':74,'total_tokens':730,"
        "'prompt_tokens_details':{'cached_tokens':0}}}"));
    json_decref(w);
}

TEST(anthropic_stream_basic_fixture)
{
    json_t *w = ah_replay_sample(&anthropic, NULL,
                                 "stream_basic_sdk_fixture.sse", 1);

    ASSERT(w != NULL);
    /* No blank line after the last event: dispatched at the end. */
    ASSERT(ah_expect(w, "{'rc':0,'content':'Hello there!',"
        "'finish':'stop','bad':0,'usage':{'prompt_tokens':11,"
        "'completion_tokens':6,'total_tokens':17}}"));
    json_decref(w);
}

TEST(anthropic_stream_thinking_refusal_fixture)
{
    json_t *w = ah_replay_sample(&anthropic, NULL,
                                 "stream_thinking_sdk_fixture.sse", 1);

    ASSERT(ah_expect(w, "{'rc':0,'content':'Hi',"
        "'finish':'content_filter','nthinking_blocks':1,"
        "'signature':'c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1"
        "zaWduYXR1cmU=',"
        "'bad':0,'usage':{'prompt_tokens':28,'completion_tokens':106,"
        "'total_tokens':134,'prompt_tokens_details':{'cached_tokens':0},"
        "'completion_tokens_details':{'reasoning_tokens':67}}}"));
    ASSERT_STR_EQ(ah_str(w, "reasoning"),
                  "Simple educational question about what a solar eclipse "
                  "is. This is benign general knowledge \xe2\x80\x94 "
                  "definitions are fine. Also the user called me "
                  "\"claudius\" \xe2\x80\x94 I'm Claude. Minor correction or "
                  "just roll with it politely.");
    json_decref(w);
}

TEST(anthropic_stream_thinking_chunks)
{
    json_t *w = ah_replay_sample(&anthropic, NULL,
                                 "stream_thinking.chunks.jsonl", 1);

    ASSERT(ah_expect(w, "{'rc':0,'finish':'stop','nthinking_blocks':1,"
        "'bad':0,'usage':{'prompt_tokens':69,'completion_tokens':53,"
        "'total_tokens':122,'prompt_tokens_details':{'cached_tokens':0}}}"));
    ASSERT_STR_EQ(ah_str(w, "reasoning"),
                  "The previous result was 925. Now I need to divide that by "
                  "5.\n\n925 \xc3\xb7 5 = 185");
    ASSERT_STR_EQ(ah_str(w, "content"),
                  "925 \xc3\xb7 5 = 185");
    ASSERT(strncmp(ah_str(w, "signature"),
                   "EvQBCkYICxgCKkAxhD4N", 20) == 0);
    json_decref(w);
}

TEST(anthropic_stream_error_overloaded)
{
    json_t *w = ah_replay_sample(&anthropic, NULL,
                                 "stream_error_overloaded_event.sse", 1);
    size_t n;
    char *p = ah_stream_sample(&anthropic,
                               "stream_error_overloaded_event.sse", &n);
    struct ah f;

    ASSERT(w != NULL);
    ASSERT_EQ(ah_int(w, "rc"), LLMUX_EUNAVAIL);
    ASSERT_EQ(ah_int(w, "code"), LLMUX_EUNAVAIL);
    json_decref(w);
    ah_init(&f, &anthropic, NULL, 1);
    ASSERT_EQ(provider_anthropic.stream_feed(&f.pc, p, n), LLMUX_EUNAVAIL);
    ASSERT_EQ(f.pc.err.code, LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "anthropic: Overloaded") != NULL);
    free(p);
    ah_free(&f);
}

/* Two tool_use blocks after a text block: OpenAI indexes 0 and 1, not the
 * Anthropic block indexes 1 and 2; a block start with a whole input. */
TEST(anthropic_stream_parallel_tools)
{
    static const char s[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
        "{\"id\":\"msg_p\",\"model\":\"claude-x\",\"usage\":"
        "{\"input_tokens\":5,"
        "\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"Both.\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":0}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t_a\","
        "\"name\":\"f\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"x\\\":\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"1}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":1}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t_b\","
        "\"name\":\"g\",\"input\":{\"y\":2}}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":2}\n\n"
        "event: some_future_event\ndata: {\"type\":\"some_future_event\"}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
        "{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":30}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    json_t *w = ah_replay_whole(&anthropic, NULL, s, sizeof(s) - 1);

    ASSERT(ah_expect(w, "{'rc':0,'content':'Both.',"
        "'tools.1.arguments':{'y':2},'finish':'tool_calls','bad':0,"
        "'usage':{'prompt_tokens':5,'completion_tokens':30,"
        "'total_tokens':35}}"));
    ASSERT(ah_same_text(json_object_get(w, "tools"),
        "[{'id':'t_a','name':'f','arguments':'{\\'x\\':1}'},"
        " {'id':'t_b','name':'g','arguments':'{\\'y\\':2}'}]"));
    json_decref(w);
}

TEST(anthropic_stream_json_mode)
{
    static const char s[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
        "{\"id\":\"msg_j\",\"model\":\"claude-x\",\"usage\":"
        "{\"input_tokens\":5,"
        "\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t_j\","
        "\"name\":\"json_tool_call\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"name\\\": \"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"\\\"Oslo\\\"}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
        "{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    json_t *w = ah_replay_whole(&anthropic, "{'response_format':{'type':"
                                            "'json_object'}}", s,
                            sizeof(s) - 1);

    ASSERT(ah_expect(w, "{'rc':0,'tools.#':0,'finish':'stop'}"));
    ASSERT_STR_EQ(ah_str(w, "content"),
                  "{\"name\": \"Oslo\"}");
    json_decref(w);
}

TEST(anthropic_stream_errors)
{
    static const struct ah_stream_case cases[] = {
        /* a data line cut inside its JSON */
        { "event: content_block_delta\ndata: {\"type\":\"content_block_delta"
          "\",\"index\":0,\"delta\":{\"type\":\"text_del\n\n", LLMUX_EUNAVAIL,
          "malformed" },
        { "data: [1,2]\n\n", LLMUX_EUNAVAIL, "malformed" },
        { "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
          "\"rate_limit_error\",\"message\":\"slow down\"}}\n\n",
          LLMUX_ERATELIMIT, "slow down" },
        { "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
          "\"invalid_request_error\",\"message\":\"prompt is too long: "
          "300000 tokens\"}}\n\n", LLMUX_ECONTEXT, "prompt is too long" },
        { "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
          "\"api_error\",\"message\":\"Internal server error\"}}\n\n",
          LLMUX_EUNAVAIL, "Internal server error" },
        /* cut short: no message_delta, no message_stop */
        { "event: message_start\ndata: {\"type\":\"message_start\",\"message\""
          ":{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n",
          LLMUX_EUNAVAIL, "truncated" },
        { "", LLMUX_EUNAVAIL, "truncated" },
    };

    ASSERT(ah_stream_cases(&anthropic, cases,
                           sizeof(cases) / sizeof(cases[0])));
}

/* Every prefix of every recorded stream, then the end, and byte flips:
 * no crash and no invalid read (run under valgrind), an error or a
 * complete answer, never both. */
TEST(anthropic_stream_prefixes_and_noise)
{
    static const char *const names[] = {
        "stream_text.sse", "stream_tool_use.sse",
        "stream_basic_sdk_fixture.sse", "stream_thinking_sdk_fixture.sse",
        "stream_thinking.chunks.jsonl", "stream_error_overloaded_event.sse",
        NULL,
    };

    ASSERT(ah_stream_noise(&anthropic, names, 7, 12345));
}

/* ------------------------------------------------------------------------
 * Errors
 */

TEST(anthropic_error_400_invalid_request)
{
    char *body = test_read_file(conformance_path(
        "providers/anthropic/error_400_invalid_request_error.json"), NULL);
    struct ah f;

    ASSERT(body != NULL);
    ah_init(&f, &anthropic, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 400, body, -1), LLMUX_EBADREQ);
    ASSERT_EQ(f.pc.err.code, LLMUX_EBADREQ);
    ASSERT_EQ(f.pc.err.status, 400);
    ASSERT(f.pc.err.retry_after < 0);
    ASSERT(strncmp(f.pc.err.message, "anthropic: messages.0.content.1: "
                   "unexpected `tool_use_id`", 56) == 0);
    free(body);
    ah_free(&f);
}

TEST(anthropic_error_429_rate_limit)
{
    char *body = test_read_file(conformance_path(
        "providers/anthropic/error_429_rate_limit_error.json"), NULL);
    char *hdrs = test_read_file(conformance_path(
        "providers/anthropic/error_429_rate_limit_error.headers.json"), NULL);
    json_t *h = hdrs ? json_loads(hdrs, 0, NULL) : NULL;
    struct ah f;

    ASSERT(body != NULL && h != NULL);
    /* The recorded headers hold no retry-after. */
    ASSERT(json_object_get(json_object_get(h, "headers"), "retry-after") ==
           NULL);
    ah_init(&f, &anthropic, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, ah_int(h, "status_code"), body, -1),
              LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after < 0);
    ASSERT(strstr(f.pc.err.message, "rate limit of 20,000,000") != NULL);
    ah_free(&f);
    /* With one (request.c parses it into http_resp.retry_after). */
    ah_init(&f, &anthropic, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 429, body, 17), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after == 17);
    ah_free(&f);
    json_decref(h);
    free(hdrs);
    free(body);
}

TEST(anthropic_error_shapes)
{
    static const struct ah_error_case cases[] = {
        { 529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
               "\"message\":\"Overloaded\"}}", LLMUX_EUNAVAIL },
        { 400, "{\"type\":\"error\",\"error\":{\"type\":"
               "\"invalid_request_error\",\"message\":\"prompt is too long: "
               "208342 tokens > 200000 maximum\"}}", LLMUX_ECONTEXT },
        { 401, "{\"type\":\"error\",\"error\":{\"type\":"
               "\"authentication_error\",\"message\":\"invalid x-api-key\"}}",
          LLMUX_EAUTH },
        { 403, "{\"type\":\"error\",\"error\":{\"type\":\"permission_error\","
               "\"message\":\"no\"}}", LLMUX_EPERMISSION },
        { 404, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
               "\"message\":\"model: claude-9\"}}", LLMUX_ENOTFOUND },
        { 413, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\","
               "\"message\":\"Request exceeds the maximum size\"}}",
          LLMUX_EBADREQ },
        { 500, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
               "\"message\":\"Internal server error\"}}", LLMUX_EUNAVAIL },
        { 400, "{\"type\":\"error\",\"error\":{\"type\":"
               "\"invalid_request_error\",\"message\":\"Output blocked by "
               "content filtering policy\"}}", LLMUX_EPOLICY },
        { 502, "<html>Bad Gateway</html>", LLMUX_EUNAVAIL },
        { 401, "", LLMUX_EAUTH },
    };

    ASSERT(ah_error_cases(&anthropic, cases, sizeof(cases) / sizeof(cases[0]),
                          3));
}

TEST(anthropic_error_scrubs_key)
{
    static const char body[] = "{\"type\":\"error\",\"error\":{\"type\":"
        "\"authentication_error\",\"message\":\"invalid x-api-key "
        "test-key\"}}";
    struct ah f;

    ah_init(&f, &anthropic, NULL, 0);
    ASSERT_EQ(ah_map_error(&f, 401, body, -1), LLMUX_EAUTH);
    ASSERT(strstr(f.pc.err.message, "test-key") == NULL);
    ah_free(&f);
}
