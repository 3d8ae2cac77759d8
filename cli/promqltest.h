/*
 * promqltest.h: `vigil promql-test FILE...`, the runner of PromQL test
 * files (promqltest_parse.h reads them) over a real engine in-process: the
 * receiver's head and storage (receiver/storage/) in a temporary data
 * directory, and the evaluator (receiver/query/eval.h).
 */
#ifndef VG_CLI_PROMQLTEST_H
#define VG_CLI_PROMQLTEST_H

/* Relative tolerance of float comparisons: promqltest's defaultEpsilon. */
#define VG_PTEST_EPSILON 1e-6

/* Runs the files of argv[0..argc); prints a line per case and a summary
 * on stdout, file errors on stderr. Returns the exit status: 0 every case
 * passed, 1 some failed, 2 no file given or a file that cannot be read or
 * parsed. */
int vg_cli_promqltest(int argc, char **argv);

#endif
