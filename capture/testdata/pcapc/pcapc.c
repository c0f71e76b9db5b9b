/*
 * pcapc compiles filter expressions with libpcap, one per input line, for
 * TestFilterDifferential: what tcpdump -ddd -y EN10MB prints, without a
 * process per expression. A line starting with "O " is compiled without
 * the optimizer (tcpdump -O). For each line it prints "ok N" and N lines
 * "code jt jf k", or "err MESSAGE".
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

int main(void) {
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
	size_t cap = 1 << 20;
	char *line = malloc(cap);
	if (p == NULL || line == NULL)
		return 2;
	while (fgets(line, (int)cap, stdin) != NULL) {
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		int optimize = 1;
		char *expr = line;
		if (strncmp(line, "O ", 2) == 0) {
			optimize = 0;
			expr += 2;
		}
		struct bpf_program prog;
		if (pcap_compile(p, &prog, expr, optimize, 0) < 0) {
			char *msg = pcap_geterr(p);
			for (char *c = msg; *c; c++)
				if (*c == '\n')
					*c = ' ';
			printf("err %s\n", msg);
		} else {
			printf("ok %u\n", prog.bf_len);
			for (unsigned i = 0; i < prog.bf_len; i++) {
				struct bpf_insn *in = &prog.bf_insns[i];
				printf("%u %u %u %u\n", in->code, in->jt, in->jf, in->k);
			}
			pcap_freecode(&prog);
		}
		fflush(stdout);
	}
	return 0;
}
