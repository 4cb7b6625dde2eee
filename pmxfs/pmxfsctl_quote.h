/*
 * Quoting of user input in pmxfsctl's error messages: a long path or lock
 * name is cut, and control bytes are escaped so they cannot move the
 * cursor or change the terminal.
 */
#ifndef PMXFS_PMXFSCTL_QUOTE_H
#define PMXFS_PMXFSCTL_QUOTE_H

#include <stdio.h>
#include <string.h>

/* The bytes of the input shown before "..." */
#define PMXFSCTL_QUOTE_MAX 64
/* The size of a buffer that fits any quote: 4 bytes per escaped byte, "...", NUL. */
#define PMXFSCTL_QUOTE_SIZE (PMXFSCTL_QUOTE_MAX * 4 + 4)

/*
 * Write IN into OUT (PMXFSCTL_QUOTE_SIZE bytes): its first 64 bytes, then
 * "..." when it is longer, with bytes below 0x20, DEL and backslash as
 * \xNN. Returns OUT.
 */
static inline const char *pmxfsctl_quote(const char *in, char *out)
{
	size_t n = 0, i;

	for (i = 0; in[i] != '\0' && i < PMXFSCTL_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	if (in[i] != '\0') {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

#endif /* PMXFS_PMXFSCTL_QUOTE_H */
