/* replay.c: runs a fuzz target over every file of its corpus directory
 * (VG_CORPUS_DIR), so `make check` keeps every input a fuzzer ever found
 * fixed (SQLite's fuzzcheck is the model). A crash or a sanitizer report
 * fails the test; the target's own return value is not a verdict. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : VG_CORPUS_DIR;
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot open corpus %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		uint8_t *buf;
		long len;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(len > 0 ? (size_t)len : 1);
		if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
			fprintf(stderr, "replay: cannot read %s\n", path);
			free(buf);
			fclose(f);
			closedir(d);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, (size_t)len);
		free(buf);
		n++;
	}
	closedir(d);
	printf("replayed %d inputs from %s\n", n, dir);
	return n > 0 ? 0 : 1;
}
