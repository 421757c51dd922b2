/* test_config.c: sl_config_load: precedence, syntax, and an error naming the culprit for every bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/config.h"

static const char *const env_names[] = {
    "SLUICE_DATA_DIR",         "SLUICE_LISTEN",         "SLUICE_CONFIG",          "SLUICE_LOG_LEVEL",
    "SLUICE_MAP_SIZE",         "SLUICE_MAX_BODY_BYTES", "SLUICE_MAX_EVENT_BYTES", "SLUICE_MAX_APPEND_EVENTS",
    "SLUICE_MAX_HEADER_BYTES",
};

static char tmp_dir[512];
static char written[32][768]; /* files to remove at the end */
static int n_written;

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
    return 0;
}

/* Writes `text` to a file in the test directory and returns its path, valid until the end. */
static const char *write_file(const char *name, const char *text)
{
    assert_true(n_written < 32);
    char *path = written[n_written++];
    snprintf(path, sizeof(written[0]), "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads a NULL-terminated list of arguments. */
static enum sl_code load(struct sl_config *cfg, struct sl_error *err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a = va_arg(ap, const char *); a != NULL; a = va_arg(ap, const char *)) {
        assert_true(argc < 32);
        argv[argc++] = (char *)a;
    }
    va_end(ap);
    sl_error_clear(err);
    return sl_config_load(argc, argv, cfg, err);
}

/* Asserts the load failed with SL_E_INVALID, left nothing behind, and that the message holds every needle. */
static void expect_invalid(enum sl_code rc, const struct sl_config *cfg, const struct sl_error *err, ...)
{
    assert_int_equal(rc, SL_E_INVALID);
    assert_int_equal(err->code, SL_E_INVALID);
    assert_null(cfg->data_dir);
    assert_null(cfg->listen_host);
    assert_null(cfg->config_file);
    va_list ap;
    va_start(ap, err);
    for (const char *needle = va_arg(ap, const char *); needle != NULL; needle = va_arg(ap, const char *)) {
        if (strstr(err->message, needle) == NULL)
            fail_msg("message '%s' does not mention '%s'", err->message, needle);
    }
    va_end(ap);
}

/* ---- values and precedence ---- */

static void test_defaults_apply_when_nothing_is_given(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "./data");
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 2113);
    assert_null(cfg.config_file);
    assert_int_equal(cfg.log_level, SL_LOG_INFO);
    assert_int_equal(cfg.map_size, 0);
    assert_int_equal(cfg.max_body_bytes, 0);
    assert_int_equal(cfg.max_event_bytes, 0);
    assert_int_equal(cfg.max_append_events, 0);
    assert_int_equal(cfg.max_header_bytes, 0);
    assert_false(cfg.wants_help);
    sl_config_free(&cfg);
}

static void test_flag_beats_environment_beats_file_beats_default(void **state)
{
    (void)state;
    const char *path = write_file("precedence.conf", "data-dir: /from/file\n"
                                                     "listen: 10.0.0.1:1001\n"
                                                     "log-level: warn\n"
                                                     "map-size: 111\n");
    setenv("SLUICE_LISTEN", "10.0.0.2:1002", 1);
    setenv("SLUICE_LOG_LEVEL", "error", 1);
    setenv("SLUICE_MAP_SIZE", "222", 1);

    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, "--config", path, "--map-size", "333", NULL), SL_OK);
    assert_string_equal(cfg.config_file, path);
    assert_string_equal(cfg.data_dir, "/from/file");  /* file only */
    assert_string_equal(cfg.listen_host, "10.0.0.2"); /* env over file */
    assert_int_equal(cfg.listen_port, 1002);
    assert_int_equal(cfg.log_level, SL_LOG_ERROR); /* env over file */
    assert_int_equal(cfg.map_size, 333);           /* flag over env over file */
    assert_int_equal(cfg.max_body_bytes, 0);       /* default */
    sl_config_free(&cfg);
}

static void test_every_option_comes_from_each_source(void **state)
{
    (void)state;
    const char *path = write_file("all.conf", "data-dir: d\n"
                                              "listen: h:1\n"
                                              "log-level: debug\n"
                                              "map-size: 1\n"
                                              "max-body-bytes: 2\n"
                                              "max-event-bytes: 3\n"
                                              "max-append-events: 4\n"
                                              "max-header-bytes: 5\n");
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, "--config", path, NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "d");
    assert_string_equal(cfg.listen_host, "h");
    assert_int_equal(cfg.listen_port, 1);
    assert_int_equal(cfg.log_level, SL_LOG_DEBUG);
    assert_int_equal(cfg.map_size, 1);
    assert_int_equal(cfg.max_body_bytes, 2);
    assert_int_equal(cfg.max_event_bytes, 3);
    assert_int_equal(cfg.max_append_events, 4);
    assert_int_equal(cfg.max_header_bytes, 5);
    sl_config_free(&cfg);

    setenv("SLUICE_DATA_DIR", "e", 1);
    setenv("SLUICE_LISTEN", "h2:2", 1);
    setenv("SLUICE_LOG_LEVEL", "warn", 1);
    setenv("SLUICE_MAP_SIZE", "10", 1);
    setenv("SLUICE_MAX_BODY_BYTES", "20", 1);
    setenv("SLUICE_MAX_EVENT_BYTES", "30", 1);
    setenv("SLUICE_MAX_APPEND_EVENTS", "40", 1);
    setenv("SLUICE_MAX_HEADER_BYTES", "50", 1);
    assert_int_equal(load(&cfg, &err, "--config", path, NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "e");
    assert_string_equal(cfg.listen_host, "h2");
    assert_int_equal(cfg.listen_port, 2);
    assert_int_equal(cfg.log_level, SL_LOG_WARN);
    assert_int_equal(cfg.map_size, 10);
    assert_int_equal(cfg.max_body_bytes, 20);
    assert_int_equal(cfg.max_event_bytes, 30);
    assert_int_equal(cfg.max_append_events, 40);
    assert_int_equal(cfg.max_header_bytes, 50);
    sl_config_free(&cfg);

    assert_int_equal(load(&cfg, &err, "--config", path, "--data-dir", "f", "--listen", "h3:3", "--log-level",
                          "info", "--map-size", "100", "--max-body-bytes", "200", "--max-event-bytes", "300",
                          "--max-append-events", "400", "--max-header-bytes", "500", NULL),
                     SL_OK);
    assert_string_equal(cfg.data_dir, "f");
    assert_string_equal(cfg.listen_host, "h3");
    assert_int_equal(cfg.listen_port, 3);
    assert_int_equal(cfg.log_level, SL_LOG_INFO);
    assert_int_equal(cfg.map_size, 100);
    assert_int_equal(cfg.max_body_bytes, 200);
    assert_int_equal(cfg.max_event_bytes, 300);
    assert_int_equal(cfg.max_append_events, 400);
    assert_int_equal(cfg.max_header_bytes, 500);
    sl_config_free(&cfg);
}

static void test_flag_equals_value_form_is_accepted(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, "--data-dir=/x=y", "--listen=[::1]:0", "--log-level=debug", NULL),
                     SL_OK);
    assert_string_equal(cfg.data_dir, "/x=y");
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 0);
    assert_int_equal(cfg.log_level, SL_LOG_DEBUG);
    sl_config_free(&cfg);
}

static void test_a_later_flag_overrides_an_earlier_one(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, "--data-dir", "a", "--data-dir=b", NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "b");
    sl_config_free(&cfg);
}

static void test_environment_names_the_config_file(void **state)
{
    (void)state;
    const char *path = write_file("env.conf", "data-dir: via-env-file\n");
    setenv("SLUICE_CONFIG", path, 1);
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "via-env-file");
    assert_string_equal(cfg.config_file, path);
    sl_config_free(&cfg);

    const char *other = write_file("flag.conf", "data-dir: via-flag-file\n");
    assert_int_equal(load(&cfg, &err, "--config", other, NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "via-flag-file");
    sl_config_free(&cfg);
}

static void test_empty_environment_variable_counts_as_unset(void **state)
{
    (void)state;
    setenv("SLUICE_DATA_DIR", "", 1);
    setenv("SLUICE_MAP_SIZE", "", 1);
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "./data");
    assert_int_equal(cfg.map_size, 0);
    sl_config_free(&cfg);
}

static void test_file_allows_comments_blank_lines_quotes_and_crlf(void **state)
{
    (void)state;
    const char *path = write_file("syntax.conf", "# a comment\n"
                                                 "\n"
                                                 "   \t\n"
                                                 "  # an indented comment\n"
                                                 "data-dir: \"/path with # hash\"   # trailing comment\r\n"
                                                 "listen:[::]:8080\n"
                                                 "  log-level :  warn  # spaces around\n"
                                                 "max-body-bytes: '1 MiB'\n"
                                                 "map-size: 4GiB");
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, "--config", path, NULL), SL_OK);
    assert_string_equal(cfg.data_dir, "/path with # hash");
    assert_string_equal(cfg.listen_host, "::");
    assert_int_equal(cfg.listen_port, 8080);
    assert_int_equal(cfg.log_level, SL_LOG_WARN);
    assert_int_equal(cfg.max_body_bytes, 1u << 20);
    assert_int_equal(cfg.map_size, (size_t)4 << 30);
    sl_config_free(&cfg);
}

static void test_listen_accepts_names_ipv4_ipv6_and_port_zero(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *host;
        int port;
    } cases[] = {
        {"127.0.0.1:2113", "127.0.0.1", 2113},     {"localhost:0", "localhost", 0},
        {"0.0.0.0:65535", "0.0.0.0", 65535},       {"[::1]:2113", "::1", 2113},
        {"[fe80::1%eth0]:80", "fe80::1%eth0", 80}, {"my-host.example_1:9", "my-host.example_1", 9},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_config cfg;
        struct sl_error err;
        assert_int_equal(load(&cfg, &err, "--listen", cases[i].text, NULL), SL_OK);
        assert_string_equal(cfg.listen_host, cases[i].host);
        assert_int_equal(cfg.listen_port, cases[i].port);
        sl_config_free(&cfg);
    }
}

static void test_sizes_take_binary_units(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, "--map-size", "2KiB", "--max-body-bytes", "16 MiB", "--max-event-bytes",
                          "1gib", "--max-header-bytes", "1TiB", NULL),
                     SL_OK);
    assert_int_equal(cfg.map_size, 2048);
    assert_int_equal(cfg.max_body_bytes, (size_t)16 << 20);
    assert_int_equal(cfg.max_event_bytes, (size_t)1 << 30);
    assert_int_equal(cfg.max_header_bytes, (size_t)1 << 40);
    sl_config_free(&cfg);
}

static void test_help_stops_parsing(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, "--help", "--bogus", NULL), SL_OK);
    assert_true(cfg.wants_help);
    sl_config_free(&cfg);
    assert_int_equal(load(&cfg, &err, "--data-dir", "x", "-h", NULL), SL_OK);
    assert_true(cfg.wants_help);
    sl_config_free(&cfg);
}

static void test_free_is_safe_twice_and_on_null(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    assert_int_equal(load(&cfg, &err, NULL), SL_OK);
    sl_config_free(&cfg);
    sl_config_free(&cfg);
    sl_config_free(NULL);
}

static void test_usage_lists_every_option_and_variable(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    sl_config_usage(f);
    fclose(f);
    static const char *const flags[] = {
        "--data-dir",        "--listen",         "--config",          "--log-level",
        "--map-size",        "--max-body-bytes", "--max-event-bytes", "--max-append-events",
        "--max-header-bytes"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        assert_non_null(strstr(text, flags[i]));
        assert_non_null(strstr(text, env_names[i]));
    }
    free(text);
}

/* ---- errors name the culprit ---- */

static void test_unknown_flag_is_named(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    expect_invalid(load(&cfg, &err, "--data-dir", "x", "--bogus", "1", NULL), &cfg, &err, "--bogus", NULL);
    expect_invalid(load(&cfg, &err, "--bogus=1", NULL), &cfg, &err, "--bogus", NULL);
    assert_string_equal(err.field, "--bogus=1");
}

static void test_positional_argument_is_named(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    expect_invalid(load(&cfg, &err, "extra", NULL), &cfg, &err, "'extra'", NULL);
    expect_invalid(load(&cfg, &err, "-d", NULL), &cfg, &err, "'-d'", NULL);
    expect_invalid(load(&cfg, &err, "--", NULL), &cfg, &err, "'--'", NULL);
}

static void test_missing_value_names_the_flag(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    expect_invalid(load(&cfg, &err, "--data-dir", NULL), &cfg, &err, "--data-dir needs a value", NULL);
    expect_invalid(load(&cfg, &err, "--listen", "--data-dir", "x", NULL), &cfg, &err,
                   "--listen needs a value", NULL);
    expect_invalid(load(&cfg, &err, "--data-dir=", NULL), &cfg, &err, "--data-dir", "needs a value", NULL);
    expect_invalid(load(&cfg, &err, "--config=", NULL), &cfg, &err, "--config", "needs a value", NULL);
    assert_string_equal(err.field, "config");
}

static void test_bad_number_names_flag_variable_or_file_line(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    expect_invalid(load(&cfg, &err, "--map-size", "12x", NULL), &cfg, &err, "--map-size", "'12x'", NULL);
    assert_string_equal(err.field, "map-size");
    expect_invalid(load(&cfg, &err, "--max-body-bytes", "-1", NULL), &cfg, &err, "--max-body-bytes", NULL);
    expect_invalid(load(&cfg, &err, "--max-append-events", "10KiB", NULL), &cfg, &err, "--max-append-events",
                   "not a whole number", NULL);
    expect_invalid(load(&cfg, &err, "--max-event-bytes", "99999999999999999999", NULL), &cfg, &err,
                   "--max-event-bytes", "too large", NULL);
    expect_invalid(load(&cfg, &err, "--max-header-bytes", "17179869184TiB", NULL), &cfg, &err,
                   "--max-header-bytes", "too large", NULL);
    expect_invalid(load(&cfg, &err, "--map-size", "KiB", NULL), &cfg, &err, "--map-size", NULL);

    setenv("SLUICE_MAX_HEADER_BYTES", "lots", 1);
    expect_invalid(load(&cfg, &err, NULL), &cfg, &err, "SLUICE_MAX_HEADER_BYTES", "'lots'", NULL);
    unsetenv("SLUICE_MAX_HEADER_BYTES");

    const char *path = write_file("badnum.conf", "# limits\n\nmax-event-bytes: 1.5\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, path, ":3", "max-event-bytes",
                   "'1.5'", NULL);
}

static void test_bad_value_is_reported_even_when_overridden(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    setenv("SLUICE_LOG_LEVEL", "loud", 1);
    expect_invalid(load(&cfg, &err, "--log-level", "info", NULL), &cfg, &err, "SLUICE_LOG_LEVEL", "'loud'",
                   NULL);
}

static void test_bad_log_level_is_named(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    expect_invalid(load(&cfg, &err, "--log-level", "INFO", NULL), &cfg, &err, "--log-level", "'INFO'",
                   "debug, info, warn or error", NULL);
    assert_string_equal(err.field, "log-level");
}

static void test_bad_listen_address_is_named(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"127.0.0.1", "no port"},
        {"127.0.0.1:", "port ''"},
        {"127.0.0.1:65536", "port '65536'"},
        {"127.0.0.1:-1", "port '-1'"},
        {"127.0.0.1:80x", "port '80x'"},
        {":2113", "no host"},
        {"::1:2113", "brackets"},
        {"[::1:2113", "closing ']'"},
        {"[::1]2113", "no port"},
        {"[]:2113", "no host"},
        {"[1.2.3.4]:80", "not an IPv6 address"},
        {"[::g]:80", "not an IPv6 address"},
        {"bad host:80", "not a host name"},
        {"a/b:80", "not a host name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_config cfg;
        struct sl_error err;
        enum sl_code rc = load(&cfg, &err, "--listen", cases[i].text, NULL);
        if (rc != SL_E_INVALID)
            fail_msg("'%s' was accepted", cases[i].text);
        expect_invalid(rc, &cfg, &err, "--listen", cases[i].needle, NULL);
        assert_string_equal(err.field, "listen");
    }
}

static void test_unreadable_config_file_is_named(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    char missing[768];
    snprintf(missing, sizeof(missing), "%s/no-such.conf", tmp_dir);
    expect_invalid(load(&cfg, &err, "--config", missing, NULL), &cfg, &err, missing, "--config",
                   "No such file or directory", NULL);

    setenv("SLUICE_CONFIG", missing, 1);
    expect_invalid(load(&cfg, &err, NULL), &cfg, &err, missing, "SLUICE_CONFIG", NULL);
    unsetenv("SLUICE_CONFIG");

    expect_invalid(load(&cfg, &err, "--config", tmp_dir, NULL), &cfg, &err, tmp_dir, "Is a directory", NULL);
}

static void test_unknown_key_in_file_names_line_and_key(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    const char *path = write_file("unknown.conf", "data-dir: x\n# c\nlisten-port: 80\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, path, ":3",
                   "unknown key 'listen-port'", NULL);
    assert_string_equal(err.field, "listen-port");

    path = write_file("dashes.conf", "--data-dir: x\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, ":1", "'--data-dir'",
                   "without the dashes", NULL);

    path = write_file("nested.conf", "config: other.conf\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, ":1", "'config'", NULL);
}

static void test_malformed_file_lines_are_named(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err;
    const char *path = write_file("nocolon.conf", "data-dir ./data\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, ":1", "expected 'key: value'", NULL);

    path = write_file("dup.conf", "listen: a:1\n\nlisten: b:2\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, ":3", "'listen'", "line 1", NULL);

    path = write_file("quote.conf", "data-dir: \"unclosed\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, ":1", "data-dir", "not closed",
                   NULL);

    path = write_file("empty.conf", "data-dir:\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, ":1: data-dir", "needs a value",
                   NULL);

    path = write_file("badlisten.conf", "\nlisten: 1.2.3.4\n");
    expect_invalid(load(&cfg, &err, "--config", path, NULL), &cfg, &err, ":2: listen", "no port", NULL);
}

int main(void)
{
    const char *base = getenv("SLUICE_TEST_TMP");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/test_config.%ld", base && *base ? base : "/tmp", (long)getpid());
    if (base && *base)
        mkdir(base, 0700);
    if (mkdir(tmp_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s: %s\n", tmp_dir, strerror(errno));
        return 1;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_apply_when_nothing_is_given, clear_env),
        cmocka_unit_test_setup(test_flag_beats_environment_beats_file_beats_default, clear_env),
        cmocka_unit_test_setup(test_every_option_comes_from_each_source, clear_env),
        cmocka_unit_test_setup(test_flag_equals_value_form_is_accepted, clear_env),
        cmocka_unit_test_setup(test_a_later_flag_overrides_an_earlier_one, clear_env),
        cmocka_unit_test_setup(test_environment_names_the_config_file, clear_env),
        cmocka_unit_test_setup(test_empty_environment_variable_counts_as_unset, clear_env),
        cmocka_unit_test_setup(test_file_allows_comments_blank_lines_quotes_and_crlf, clear_env),
        cmocka_unit_test_setup(test_listen_accepts_names_ipv4_ipv6_and_port_zero, clear_env),
        cmocka_unit_test_setup(test_sizes_take_binary_units, clear_env),
        cmocka_unit_test_setup(test_help_stops_parsing, clear_env),
        cmocka_unit_test_setup(test_free_is_safe_twice_and_on_null, clear_env),
        cmocka_unit_test_setup(test_usage_lists_every_option_and_variable, clear_env),
        cmocka_unit_test_setup(test_unknown_flag_is_named, clear_env),
        cmocka_unit_test_setup(test_positional_argument_is_named, clear_env),
        cmocka_unit_test_setup(test_missing_value_names_the_flag, clear_env),
        cmocka_unit_test_setup(test_bad_number_names_flag_variable_or_file_line, clear_env),
        cmocka_unit_test_setup(test_bad_value_is_reported_even_when_overridden, clear_env),
        cmocka_unit_test_setup(test_bad_log_level_is_named, clear_env),
        cmocka_unit_test_setup(test_bad_listen_address_is_named, clear_env),
        cmocka_unit_test_setup(test_unreadable_config_file_is_named, clear_env),
        cmocka_unit_test_setup(test_unknown_key_in_file_names_line_and_key, clear_env),
        cmocka_unit_test_setup(test_malformed_file_lines_are_named, clear_env),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    for (int i = 0; i < n_written; i++)
        unlink(written[i]);
    rmdir(tmp_dir);
    return failed;
}
