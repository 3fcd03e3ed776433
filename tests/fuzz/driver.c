/* A plain driver for the fuzz targets (built with any compiler): runs every
 * file named on the command line, or every file of every directory named,
 * through LLVMFuzzerTestOneInput once. A crash or a sanitizer report fails
 * the test; the targets abort() when an invariant breaks. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;
	int rc = 1;

	if (!f) {
		perror(path);
		return 1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto cleanup;
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		goto cleanup;
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	rc = 0;
cleanup:
	if (rc)
		fprintf(stderr, "cannot read %s\n", path);
	free(buf);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	int i, failed = 0, files = 0;
	struct stat st;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char path[4096];
			if (!d) {
				perror(argv[i]);
				return 1;
			}
			while ((e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				failed += run_file(path);
				files++;
			}
			closedir(d);
		} else {
			failed += run_file(argv[i]);
			files++;
		}
	}
	printf("%d inputs run, %d unreadable\n", files, failed);
	return failed || files == 0 ? 1 : 0;
}
