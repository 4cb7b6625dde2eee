/*
 * The description codec. pct stores a description as one `#` line per
 * text line, with every byte outside printable ASCII, and '%' and ':',
 * written as uppercase %XX. Files written before pct escaped '%' may hold
 * a literal '%'; decoding leaves a '%' that is not followed by two hex
 * digits as it is.
 */
#include "config.h"

#include <stdlib.h>

#include "conf/conf.h"

static const char hex_digits[] = "0123456789ABCDEF";

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int needs_escape(unsigned char c)
{
	return c < 0x20 || c > 0x7e || c == '%' || c == ':';
}

char *conf_desc_encode(const char *text, size_t len)
{
	char *out = malloc(len * 3 + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (needs_escape(c)) {
			*p++ = '%';
			*p++ = hex_digits[c >> 4];
			*p++ = hex_digits[c & 0xf];
		} else {
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return out;
}

char *conf_desc_decode(const char *text, size_t len)
{
	char *out = malloc(len + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int high = -1, low = -1;

		if (text[i] == '%' && i + 2 < len) {
			high = hex_value(text[i + 1]);
			low = hex_value(text[i + 2]);
		}
		/* %00 stays as written: a C string cannot hold the NUL it means. */
		if (high >= 0 && low >= 0 && (high | low) != 0) {
			*p++ = (char)(high << 4 | low);
			i += 2;
		} else {
			*p++ = text[i];
		}
	}
	*p = '\0';
	return out;
}
