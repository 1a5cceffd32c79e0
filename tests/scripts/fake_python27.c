/* What snakescope reads of a Python 2.7 interpreter, and nothing more: an
 * executable named `python2.7` (the name a real 2.7 runs under, from which
 * the version is read), exporting `Py_GetVersion` (as every CPython does,
 * 2.7 included) with its `static char version[250]` buffer filled at
 * start-up with the text of `sys.version` (2.7's Python/getversion.c, called
 * by Py_Initialize), and no `_PyRuntime` (added in 3.7). It prints `ready`,
 * runs argv[1] seconds (default 1) and exits with status 3. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *Py_GetVersion(void) {
    static char version[250];
    snprintf(version, sizeof version, "%.80s (%.80s) %.80s", "2.7.18",
             "default, Apr 20 2020, 00:00:00", "[GCC 9.3.0]");
    return version;
}

int main(int argc, char **argv) {
    Py_GetVersion();
    puts("ready");
    fflush(stdout);
    int ms = (int)(1000 * (argc > 1 ? atof(argv[1]) : 1.0));
    for (int i = 0; i < ms / 10; i++) usleep(10000);
    return 3;
}
