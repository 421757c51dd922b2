/* test_sse.c: the Server-Sent Events parser, fed whole and cut at every byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cli/sse.h"
#include "util/buf.h"

/* Records each event as "type|id|data\n". */
struct recorder {
    struct sl_buf out;
    int stop_after; /* stop once this many events came; 0 = never */
    int n_events;
};

static bool record(const struct sl_sse_event *ev, void *arg)
{
    struct recorder *r = arg;
    sl_buf_printf(&r->out, "%s|%s|", ev->type, ev->id);
    sl_buf_append(&r->out, ev->data, ev->data_len);
    sl_buf_putc(&r->out, '\n');
    assert_int_equal(strlen(ev->data), ev->data_len);
    r->n_events++;
    return r->stop_after == 0 || r->n_events < r->stop_after;
}

/* Feeds `input` in pieces of `piece` bytes and checks what was recorded. */
static void expect_events(const char *input, size_t piece, const char *expected)
{
    struct recorder r = {0};
    struct sl_sse_parser p;
    sl_buf_init(&r.out);
    sl_sse_init(&p, record, &r);
    size_t len = strlen(input);
    for (size_t i = 0; i < len; i += piece)
        assert_true(sl_sse_feed(&p, input + i, len - i < piece ? len - i : piece));
    if (strcmp(r.out.data ? r.out.data : "", expected) != 0)
        fail_msg("fed in pieces of %zu:\n%s\nexpected:\n%s", piece, r.out.data ? r.out.data : "", expected);
    sl_sse_free(&p);
    sl_buf_free(&r.out);
}

/* Every way of cutting the input gives the same events. */
static void expect_events_however_cut(const char *input, const char *expected)
{
    size_t len = strlen(input);
    for (size_t piece = 1; piece <= len; piece++)
        expect_events(input, piece, expected);
}

static void test_each_blank_line_ends_an_event(void **state)
{
    (void)state;
    expect_events_however_cut("id: 1\ndata: {\"a\":1}\n\nid: 2\ndata: {\"a\":2}\n\n",
                              "message|1|{\"a\":1}\nmessage|2|{\"a\":2}\n");
}

static void test_crlf_and_cr_end_lines_too(void **state)
{
    (void)state;
    expect_events_however_cut("data: a\r\n\r\ndata: b\r\rdata: c\n\n",
                              "message||a\nmessage||b\nmessage||c\n");
}

static void test_comments_and_keep_alives_are_ignored(void **state)
{
    (void)state;
    expect_events_however_cut(": keep-alive\n\n: hello\ndata: x\n: inside\n\n", "message||x\n");
}

static void test_several_data_lines_join_with_newline(void **state)
{
    (void)state;
    expect_events_however_cut("data: {\ndata:  \"a\": 1\ndata: }\n\n", "message||{\n \"a\": 1\n}\n");
}

static void test_only_one_leading_space_is_dropped_and_colon_is_optional(void **state)
{
    (void)state;
    expect_events_however_cut("data:no-space\n\ndata:  two\n\ndata\n\n",
                              "message||no-space\nmessage|| two\nmessage||\n");
}

static void test_id_persists_and_event_type_does_not(void **state)
{
    (void)state;
    expect_events_however_cut("id: 7\nevent: custom\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
                              "custom|7|a\nmessage|7|b\nmessage||c\n");
}

static void test_block_without_data_is_no_event(void **state)
{
    (void)state;
    expect_events_however_cut("id: 3\n\nevent: x\n\nretry: 1000\n\ndata: y\n\n", "message|3|y\n");
}

static void test_unfinished_event_at_end_is_not_dispatched(void **state)
{
    (void)state;
    expect_events_however_cut("data: done\n\ndata: half", "message||done\n");
}

static void test_leading_bom_is_skipped(void **state)
{
    (void)state;
    expect_events_however_cut("\xEF\xBB\xBF"
                              "data: a\n\n",
                              "message||a\n");
    /* Half a BOM is content: the field name is then not "data". */
    expect_events_however_cut("\xEF\xBB"
                              "data: a\n\ndata: b\n\n",
                              "message||b\n");
}

static void test_handler_can_stop_the_parser(void **state)
{
    (void)state;
    struct recorder r = {.stop_after = 1};
    struct sl_sse_parser p;
    sl_buf_init(&r.out);
    sl_sse_init(&p, record, &r);
    assert_false(sl_sse_feed(&p, "data: a\n\ndata: b\n\n", 18));
    assert_int_equal(r.n_events, 1);
    sl_sse_free(&p);
    sl_buf_free(&r.out);
    sl_sse_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_blank_line_ends_an_event),
        cmocka_unit_test(test_crlf_and_cr_end_lines_too),
        cmocka_unit_test(test_comments_and_keep_alives_are_ignored),
        cmocka_unit_test(test_several_data_lines_join_with_newline),
        cmocka_unit_test(test_only_one_leading_space_is_dropped_and_colon_is_optional),
        cmocka_unit_test(test_id_persists_and_event_type_does_not),
        cmocka_unit_test(test_block_without_data_is_no_event),
        cmocka_unit_test(test_unfinished_event_at_end_is_not_dispatched),
        cmocka_unit_test(test_leading_bom_is_skipped),
        cmocka_unit_test(test_handler_can_stop_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
