/* Runs a fuzz target over files, without libFuzzer: ctest replays the
   seed corpus with it in every build, the sanitizer build included. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf;
        long n;

        if (!f)
                return -1;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)n + 1);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                fclose(f);
                free(buf);
                return -1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
        return 0;
}

int main(int argc, char **argv)
{
        int files = 0;

        for (int i = 1; i < argc; i++) {
                DIR *dir = opendir(argv[i]);
                struct dirent *e;
                char path[4096];
                if (!dir) {
                        if (run_file(argv[i]) == 0)
                                files++;
                        continue;
                }
                while ((e = readdir(dir))) {
                        if (e->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof path, "%s/%s", argv[i],
                                 e->d_name);
                        if (run_file(path) == 0)
                                files++;
                }
                closedir(dir);
        }
        printf("replayed %d inputs without a finding\n", files);
        return files > 0 ? 0 : 1;
}
