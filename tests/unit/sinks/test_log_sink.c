/* test_log_sink.c: the log sink writes one line per record, to a file or the
 * server log, with or without the data, and retries when the file fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinks/sink.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct sl_sink_type *log_sink;
static char dir[512];
static char file[600];

static int make_dir(void **state)
{
    (void)state;
    const char *root = getenv("SLUICE_TEST_TMP");
    root = root && root[0] ? root : "/tmp";
    mkdir(root, 0755);
    snprintf(dir, sizeof(dir), "%s/log-sink-XXXXXX", root);
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(file, sizeof(file), "%s/records.log", dir);
    log_sink = sl_sink_find("log-sink");
    return log_sink ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    unlink(file);
    rmdir(dir);
    return 0;
}

/* A log sink for NULL-terminated key, value pairs. */
static void *sink_with(const char *key, ...)
{
    struct sl_settings s;
    sl_settings_init(&s);
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *))
        assert_true(sl_settings_set(&s, k, va_arg(ap, const char *)));
    va_end(ap);
    struct sl_error err = {0};
    void *ctx = NULL;
    enum sl_code code = log_sink->create(&s, "orders-to-log", &ctx, &err);
    sl_settings_free(&s);
    if (code != SL_OK)
        fail_msg("create failed: %s", err.message);
    return ctx;
}

static struct sl_sink_record record(uint64_t position, const char *stream, const char *type, const char *json)
{
    return (struct sl_sink_record){
        .position = position,
        .record_id = "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11",
        .stream = stream,
        .stream_len = strlen(stream),
        .type = type,
        .type_len = strlen(type),
        .content_type = "application/json",
        .is_json = true,
        .payload = json,
        .payload_len = strlen(json),
    };
}

static void write_records(void *sink, const struct sl_sink_record *recs, size_t n,
                          struct sl_sink_result *results)
{
    _Atomic bool cancel = false;
    memset(results, 0xa5, n * sizeof(*results));
    log_sink->write(sink, recs, n, results, &cancel);
}

/* The whole file, NUL-terminated; the caller frees it. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 65536);
    assert_non_null(text);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static const char binary[] = {'\x00', 'b', 'i', 'n'};

/* A JSON record (pretty-printed over lines), a binary one, and one on a stream with a line break in its name.
 */
static void three_records(struct sl_sink_record recs[3])
{
    recs[0] = record(100, "order-1", "OrderPlaced", "{\n  \"total\": 42,\n  \"note\": \"a\\nb\"\n}");
    recs[1] = record(250, "blob-7", "Uploaded", "");
    recs[1].is_json = false;
    recs[1].content_type = "application/octet-stream";
    recs[1].payload = binary;
    recs[1].payload_len = sizeof(binary);
    recs[2] = record(300, "odd\nstream", "X", "[]");
}

static void test_each_record_is_one_line_in_the_file_with_its_data(void **state)
{
    (void)state;
    void *sink = sink_with("path", file, NULL);
    struct sl_sink_record recs[3];
    three_records(recs);
    struct sl_sink_result results[3];

    write_records(sink, recs, 3, results);

    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(results[i].outcome, SL_SINK_DELIVERED);
        assert_int_equal(results[i].retry_after_ms, -1);
    }
    char *text = read_file(file);
    assert_string_equal(text, "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 order-1@100 OrderPlaced "
                              "{   \"total\": 42,   \"note\": \"a\\nb\" }\n"
                              "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 blob-7@250 Uploaded AGJpbg==\n"
                              "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 odd stream@300 X []\n");
    free(text);
    log_sink->destroy(sink);
}

static void test_without_record_data_a_line_ends_at_the_event_type(void **state)
{
    (void)state;
    void *sink = sink_with("path", file, "includeRecordData", "false", NULL);
    struct sl_sink_record recs[3];
    three_records(recs);
    struct sl_sink_result results[3];

    write_records(sink, recs, 3, results);

    char *text = read_file(file);
    assert_string_equal(text, "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 order-1@100 OrderPlaced\n"
                              "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 blob-7@250 Uploaded\n"
                              "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 odd stream@300 X\n");
    free(text);
    log_sink->destroy(sink);
}

static void test_lines_are_appended_to_what_the_file_holds(void **state)
{
    (void)state;
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("earlier\n", f);
    fclose(f);
    void *sink = sink_with("path", file, "includeRecordData", "FALSE", NULL);
    struct sl_sink_record rec = record(7, "s", "T", "{}");
    struct sl_sink_result r;

    write_records(sink, &rec, 1, &r);
    write_records(sink, &rec, 1, &r);

    char *text = read_file(file);
    assert_string_equal(text, "earlier\n"
                              "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 s@7 T\n"
                              "0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 s@7 T\n");
    free(text);
    log_sink->destroy(sink);
}

static void test_a_file_that_cannot_be_opened_makes_every_record_retry_until_it_can(void **state)
{
    (void)state;
    char missing[700];
    snprintf(missing, sizeof(missing), "%s/not-yet/records.log", dir);
    void *sink = sink_with("path", missing, NULL);
    struct sl_sink_record recs[2] = {record(1, "s", "T", "{}"), record(2, "s", "T", "{}")};
    struct sl_sink_result results[2];

    write_records(sink, recs, 2, results);

    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(results[i].outcome, SL_SINK_RETRY);
        assert_non_null(strstr(results[i].error, "cannot open"));
        assert_non_null(strstr(results[i].error, missing));
    }

    char sub[600];
    snprintf(sub, sizeof(sub), "%s/not-yet", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_records(sink, recs, 2, results);
    assert_int_equal(results[0].outcome, SL_SINK_DELIVERED);
    assert_int_equal(results[1].outcome, SL_SINK_DELIVERED);
    log_sink->destroy(sink);
    unlink(missing);
    rmdir(sub);
}

static void test_without_a_path_lines_go_to_the_server_log(void **state)
{
    (void)state;
    /* Capture stderr, where the server log goes. */
    char captured[700];
    snprintf(captured, sizeof(captured), "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(captured, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    void *sink = sink_with("includeRecordData", "true", NULL);
    struct sl_sink_record rec = record(42, "order-1", "OrderPlaced", "{\"a\":1}");
    struct sl_sink_result r;

    write_records(sink, &rec, 1, &r);

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_int_equal(r.outcome, SL_SINK_DELIVERED);
    char *text = read_file(captured);
    unlink(captured);
    if (strstr(text,
               "info  connector/orders-to-log: 0b8e7c52-4c5f-4d1e-9a53-0c3b2d1e0f11 order-1@42 OrderPlaced "
               "{\"a\":1}\n") == NULL)
        fail_msg("server log holds: %s", text);
    free(text);
    log_sink->destroy(sink);
}

static void test_log_sink_answers_to_each_of_its_names(void **state)
{
    (void)state;
    static const char *const names[] = {"serilog-sink", "log-sink", "SerilogSink", "LogSink", "LOG-SINK"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        assert_ptr_equal(sl_sink_find(names[i]), log_sink);
    assert_string_equal(log_sink->name, "serilog-sink");
    log_sink->destroy(NULL);
}

#define FILE_TEST(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FILE_TEST(test_each_record_is_one_line_in_the_file_with_its_data),
        FILE_TEST(test_without_record_data_a_line_ends_at_the_event_type),
        FILE_TEST(test_lines_are_appended_to_what_the_file_holds),
        FILE_TEST(test_a_file_that_cannot_be_opened_makes_every_record_retry_until_it_can),
        FILE_TEST(test_without_a_path_lines_go_to_the_server_log),
        FILE_TEST(test_log_sink_answers_to_each_of_its_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
