/*-------------------------------------------------------------------------
 *
 * tape.c
 *		  Answers read in place: one validating pass puts every value of a
 *		  response on a tape of nodes that point into its text.
 *
 * json-c builds an object per value, with a malloc each: parsing a page of
 * a listing that way costs more than fetching it, while a scan reads a few
 * fields of each item, or none (count(*)).  A tape costs one node per value,
 * in one array reused from page to page, and a value becomes something else
 * only when a column reads it.  What needs a json-c value (the members of an
 * error, a value's canonical text) gets one from cfn_to_json().
 *
 * What is accepted is strict JSON (RFC 8259): any value at the top, nesting
 * to CFJ_MAX_DEPTH levels, valid UTF-8, no NaN or Infinity; like json-c, a
 * control character inside a string is taken as it is.  Problems are
 * described as cfj_parse() describes them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "cf_tape.h"

struct CfNode
{
	const char *text;			/* the value's first byte: a string's quote */
	uint32		len;			/* bytes of its text, quotes and contents included */
	uint32		next;			/* nodes from this one to its next sibling; 0: none */
	uint32		count;			/* array: elements; object: members */
	uint8		type;			/* CfJsonType */
	bool		escaped;		/* a string with a backslash escape */
};

struct CfTape
{
	MemoryContext cxt;
	CfNode	   *nodes;
	Size		capacity;
	Size		used;
};

/* A container being read: its node and its last child so far. */
typedef struct CfOpen
{
	Size		node;
	Size		last;			/* == node: no child yet */
} CfOpen;

/* Where a pass over a text stands. */
typedef struct CfScan
{
	CfTape	   *tape;
	const unsigned char *start;
	const unsigned char *end;
	bool		validated;		/* the text's UTF-8 was checked before */
	CfOpen		open[CFJ_MAX_DEPTH];
	int			depth;
	const char *problem;		/* why the text was refused, or NULL */
	char	   *detail;
} CfScan;

#define INITIAL_NODES 1024

CfTape *
cf_tape_create(MemoryContext cxt)
{
	CfTape	   *tape = MemoryContextAllocZero(cxt, sizeof(CfTape));

	tape->cxt = cxt;
	return tape;
}

/*
 * Give the pass up: the problem and the byte it is at.  Returns NULL, for
 * the scanning functions to return.
 */
static const unsigned char *
refuse(CfScan *scan, const char *problem, const char *what, const unsigned char *at)
{
	scan->problem = problem;
	if (what != NULL)
		scan->detail = psprintf("%s at byte %zu", what, (size_t) (at - scan->start));
	return NULL;
}

static const unsigned char *
ends_early(CfScan *scan)
{
	return refuse(scan, "The document ends unexpectedly.", NULL, NULL);
}

static const unsigned char *
unexpected(CfScan *scan, const unsigned char *at)
{
	return refuse(scan, "The document is not valid JSON.", "unexpected character", at);
}

static const unsigned char *
skip_space(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* A new node at p, the next child of the container being read. */
static CfNode *
add_node(CfScan *scan, CfJsonType type, const unsigned char *p)
{
	CfTape	   *tape = scan->tape;
	CfNode	   *node;
	Size		index = tape->used;

	if (index == tape->capacity)
	{
		Size		capacity = Max(INITIAL_NODES, tape->capacity * 2);

		tape->nodes = tape->nodes == NULL
			? MemoryContextAllocHuge(tape->cxt, capacity * sizeof(CfNode))
			: repalloc_huge(tape->nodes, capacity * sizeof(CfNode));
		tape->capacity = capacity;
	}
	if (scan->depth > 0)
	{
		CfOpen	   *open = &scan->open[scan->depth - 1];

		if (open->last != open->node)
			tape->nodes[open->last].next = (uint32) (index - open->last);
		open->last = index;
	}
	tape->used++;
	node = &tape->nodes[index];
	node->text = (const char *) p;
	node->len = 0;
	node->next = 0;
	node->count = 0;
	node->type = (uint8) type;
	node->escaped = false;
	return node;
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string from its opening quote at p; returns the byte after it. */
static const unsigned char *
scan_string(CfScan *scan, CfNode *node, const unsigned char *p)
{
	const unsigned char *end = scan->end;
	const unsigned char *first = p++;

	for (;;)
	{
		while (p < end && *p != '"' && *p != '\\' && *p < 0x80 && *p != '\0')
			p++;
		if (p == end)
			return ends_early(scan);
		if (*p == '"')
			break;
		if (*p == '\0')
			return unexpected(scan, p);
		if (*p == '\\')
		{
			node->escaped = true;
			if (++p == end)
				return ends_early(scan);
			if (*p == 'u')
			{
				for (int i = 1; i <= 4; i++)
				{
					if (p + i == end)
						return ends_early(scan);
					if (!is_hex(p[i]))
						return refuse(scan, "The document is not valid JSON.",
									  "invalid string sequence", p + i);
				}
				p += 5;
			}
			else if (strchr("\"\\/bfnrt", *p) != NULL && *p != '\0')
				p++;
			else
				return refuse(scan, "The document is not valid JSON.",
							  "invalid string sequence", p);
		}
		else if (scan->validated)
			p++;
		else
		{
			int			l = pg_utf_mblen(p);

			if (l > end - p || !pg_utf8_islegal(p, l))
				return refuse(scan, "The document is not valid JSON.",
							  "invalid utf-8 string", p);
			p += l;
		}
	}
	p++;
	node->len = (uint32) (p - first);
	return p;
}

static const unsigned char *
scan_digits(const unsigned char *p, const unsigned char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* NaN and Infinity, which json-c would take and JSON has not. */
static bool
is_non_finite(const unsigned char *p, const unsigned char *end)
{
	return (end - p >= 3 && memcmp(p, "NaN", 3) == 0) ||
		(end - p >= 8 && memcmp(p, "Infinity", 8) == 0);
}

static const unsigned char *
non_finite(CfScan *scan, const unsigned char *at)
{
	return refuse(scan, "The document is not valid JSON.", "NaN or Infinity", at);
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static const unsigned char *
scan_number(CfScan *scan, CfNode *node, const unsigned char *p)
{
	const unsigned char *end = scan->end;
	const unsigned char *first = p;

	if (*p == '-' && ++p == end)
		return ends_early(scan);
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p = scan_digits(p, end);
	else if (is_non_finite(p, end))
		return non_finite(scan, first);
	else
		return unexpected(scan, p);
	if (p < end && *p == '.')
	{
		if (++p == end)
			return ends_early(scan);
		if (*p < '0' || *p > '9')
			return unexpected(scan, p);
		p = scan_digits(p, end);
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end)
			return ends_early(scan);
		if (*p < '0' || *p > '9')
			return unexpected(scan, p);
		p = scan_digits(p, end);
	}
	node->len = (uint32) (p - first);
	return p;
}

static const unsigned char *
scan_literal(CfScan *scan, CfNode *node, const unsigned char *p, const char *word)
{
	size_t		len = strlen(word);
	size_t		left = scan->end - p;

	if (memcmp(p, word, Min(len, left)) != 0)
		return unexpected(scan, p);
	if (left < len)
		return ends_early(scan);
	node->len = (uint32) len;
	return p + len;
}

/* Open a container at p. */
static const unsigned char *
open_container(CfScan *scan, CfJsonType type, const unsigned char *p)
{
	CfNode	   *node;

	if (scan->depth == CFJ_MAX_DEPTH)
	{
		scan->problem = psprintf("The document nests deeper than %d levels.", CFJ_MAX_DEPTH);
		scan->detail = psprintf("at byte %zu", (size_t) (p - scan->start));
		return NULL;
	}
	node = add_node(scan, type, p);
	(void) node;
	scan->open[scan->depth].node = scan->tape->used - 1;
	scan->open[scan->depth].last = scan->tape->used - 1;
	scan->depth++;
	return p + 1;
}

static void
close_container(CfScan *scan, const unsigned char *p)
{
	CfNode	   *node = &scan->tape->nodes[scan->open[--scan->depth].node];

	node->len = (uint32) ((const char *) p + 1 - node->text);
}

/* The container being read, or NULL at the top. */
static CfNode *
open_node(CfScan *scan)
{
	return scan->depth > 0 ? &scan->tape->nodes[scan->open[scan->depth - 1].node] : NULL;
}

/*
 * One pass over the text.  The states: a value is expected, a member's key
 * is expected, or a value has ended and its container says what follows.
 */
static bool
scan_text(CfScan *scan)
{
	const unsigned char *p = scan->start;
	const unsigned char *end = scan->end;
	CfNode	   *container;
	CfNode	   *node;

value:
	p = skip_space(p, end);
	if (p == end)
		return ends_early(scan) != NULL;
	container = open_node(scan);
	if (container != NULL && container->type == CFJ_ARRAY)
		container->count++;
	switch (*p)
	{
		case '{':
		case '[':
			p = open_container(scan, *p == '{' ? CFJ_OBJECT : CFJ_ARRAY, p);
			if (p == NULL)
				return false;
			p = skip_space(p, end);
			if (p == end)
				return ends_early(scan) != NULL;
			container = open_node(scan);
			if (*p == (container->type == CFJ_OBJECT ? '}' : ']'))
			{
				close_container(scan, p++);
				goto after;
			}
			if (container->type == CFJ_OBJECT)
				goto key;
			goto value;
		case '"':
			p = scan_string(scan, add_node(scan, CFJ_STRING, p), p);
			break;
		case 't':
			p = scan_literal(scan, add_node(scan, CFJ_BOOL, p), p, "true");
			break;
		case 'f':
			p = scan_literal(scan, add_node(scan, CFJ_BOOL, p), p, "false");
			break;
		case 'n':
			p = scan_literal(scan, add_node(scan, CFJ_NULL, p), p, "null");
			break;
		default:
			if (*p == '-' || (*p >= '0' && *p <= '9'))
				p = scan_number(scan, add_node(scan, CFJ_NUMBER, p), p);
			else if (is_non_finite(p, end))
				p = non_finite(scan, p);
			else
				p = unexpected(scan, p);
			break;
	}
	if (p == NULL)
		return false;
	goto after;

key:
	p = skip_space(p, end);
	if (p == end)
		return ends_early(scan) != NULL;
	if (*p != '"')
		return unexpected(scan, p) != NULL;
	open_node(scan)->count++;
	p = scan_string(scan, add_node(scan, CFJ_STRING, p), p);
	if (p == NULL)
		return false;
	p = skip_space(p, end);
	if (p == end)
		return ends_early(scan) != NULL;
	if (*p != ':')
		return unexpected(scan, p) != NULL;
	p++;
	goto value;

after:
	p = skip_space(p, end);
	if (scan->depth == 0)
		return p == end || unexpected(scan, p) != NULL;
	if (p == end)
		return ends_early(scan) != NULL;
	node = open_node(scan);
	if (*p == ',')
	{
		p++;
		if (node->type == CFJ_OBJECT)
			goto key;
		goto value;
	}
	if (*p != (node->type == CFJ_OBJECT ? '}' : ']'))
		return unexpected(scan, p) != NULL;
	close_container(scan, p++);
	goto after;
}

/* Parse into tape; NULL with *problem (and *detail) set when refused. */
static const CfNode *
parse(CfTape *tape, const char *text, size_t len, bool validated,
	  const char **problem, char **detail)
{
	CfScan		scan = {0};

	*problem = NULL;
	*detail = NULL;
	tape->used = 0;
	if (len == 0)
	{
		*problem = "The response body is empty.";
		return NULL;
	}
	if (len > PG_UINT32_MAX)
	{
		*problem = "The document is too large.";
		return NULL;
	}
	scan.tape = tape;
	scan.start = (const unsigned char *) text;
	scan.end = scan.start + len;
	scan.validated = validated;
	if (!scan_text(&scan))
	{
		*problem = scan.problem;
		*detail = scan.detail;
		return NULL;
	}
	return &tape->nodes[0];
}

/* Parse a response; an invalid one is an ERROR, as with cfj_parse(). */
const CfNode *
cf_tape_parse(CfTape *tape, const char *text, size_t len, bool validated)
{
	const char *problem;
	char	   *detail;
	const CfNode *root = parse(tape, text, len, validated, &problem, &detail);

	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_JSON_TEXT),
				 errmsg("invalid JSON in response"),
				 detail ? errdetail("%s (%s)", problem, detail) : errdetail("%s", problem)));
	return root;
}

/* Like cf_tape_parse, but NULL instead of an error: for answers nobody must read. */
const CfNode *
cf_tape_try_parse(CfTape *tape, const char *text, size_t len)
{
	const char *problem;
	char	   *detail;

	return parse(tape, text, len, false, &problem, &detail);
}

CfJsonType
cfn_type(const CfNode *node)
{
	return node ? (CfJsonType) node->type : CFJ_NULL;
}

const CfNode *
cfn_child(const CfNode *container)
{
	return container != NULL && container->count > 0 ? container + 1 : NULL;
}

/* The next element of an array; in an object, key and value follow each other. */
const CfNode *
cfn_next(const CfNode *node)
{
	return node->next > 0 ? node + node->next : NULL;
}

int
cfn_count(const CfNode *container)
{
	CfJsonType	type = cfn_type(container);

	return (type == CFJ_ARRAY || type == CFJ_OBJECT) ? (int) container->count : 0;
}

const CfNode *
cfn_array_get(const CfNode *array, int index)
{
	const CfNode *element;

	if (cfn_type(array) != CFJ_ARRAY || index < 0 || index >= (int) array->count)
		return NULL;
	for (element = cfn_child(array); index > 0; index--)
		element = cfn_next(element);
	return element;
}

bool
cfn_bool(const CfNode *node)
{
	return node->text[0] == 't';
}

const char *
cfn_text(const CfNode *node, size_t *len)
{
	*len = node->len;
	return node->text;
}

static int
hex_value(char c)
{
	return (c <= '9') ? c - '0' : (c | 0x20) - 'a' + 10;
}

static pg_wchar
read_u_escape(const char *p)
{
	return (hex_value(p[0]) << 12) | (hex_value(p[1]) << 8) |
		(hex_value(p[2]) << 4) | hex_value(p[3]);
}

/*
 * The contents of an escaped string, NUL-terminated.  As json-c does, a
 * surrogate that is not half of a pair becomes U+FFFD, and \u0000 a NUL
 * byte inside the string.
 */
static char *
unescape(const CfNode *node, size_t *len)
{
	const char *p = node->text + 1;
	const char *end = node->text + node->len - 1;
	char	   *out = palloc(node->len);
	char	   *o = out;

	while (p < end)
	{
		pg_wchar	c;

		if (*p != '\\')
		{
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p++)
		{
			case 'b':
				*o++ = '\b';
				continue;
			case 'f':
				*o++ = '\f';
				continue;
			case 'n':
				*o++ = '\n';
				continue;
			case 'r':
				*o++ = '\r';
				continue;
			case 't':
				*o++ = '\t';
				continue;
			case 'u':
				break;
			default:			/* " \ / */
				*o++ = p[-1];
				continue;
		}
		c = read_u_escape(p);
		p += 4;
		if (c >= 0xD800 && c <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u')
		{
			pg_wchar	low = read_u_escape(p + 2);

			if (low >= 0xDC00 && low <= 0xDFFF)
			{
				c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
				p += 6;
			}
		}
		if (c >= 0xD800 && c <= 0xDFFF)
			c = 0xFFFD;
		/* six escaped bytes never make more than four of UTF-8 */
		o = (char *) unicode_to_utf8(c, (unsigned char *) o);
		o += pg_utf_mblen((unsigned char *) o);
	}
	*o = '\0';
	*len = o - out;
	return out;
}

/*
 * A string's contents, in UTF-8: the text itself when it has no escape,
 * so not NUL-terminated; else a copy in the current memory context.
 */
const char *
cfn_string_view(const CfNode *node, size_t *len)
{
	if (node->escaped)
		return unescape(node, len);
	*len = node->len - 2;
	return node->text + 1;
}

/*
 * A string's contents, NUL-terminated, in the current memory context; *len
 * counts the bytes, as an escaped NUL may be one of them.
 */
char *
cfn_cstring(const CfNode *node, size_t *len)
{
	if (node->escaped)
		return unescape(node, len);
	*len = node->len - 2;
	return pnstrdup(node->text + 1, *len);
}

bool
cfn_escaped(const CfNode *node)
{
	return node->escaped;
}

/*
 * A number as written, NUL-terminated, in the current memory context; json-c
 * reads the integer -0 as 0, and so does this.
 */
char *
cfn_number_text(const CfNode *node)
{
	if (node->len == 2 && memcmp(node->text, "-0", 2) == 0)
		return pstrdup("0");
	return pnstrdup(node->text, node->len);
}

/* Whether a member's key is the segment of a path. */
static bool
key_is(const CfNode *key, const char *segment, size_t seglen)
{
	size_t		len;
	const char *contents;
	bool		same;

	if (!key->escaped)
		return key->len - 2 == seglen && memcmp(key->text + 1, segment, seglen) == 0;
	contents = unescape(key, &len);
	same = len == seglen && memcmp(contents, segment, seglen) == 0;
	pfree((char *) contents);
	return same;
}

/*
 * The value at a dotted path, or NULL if a key on the way is missing.  Of
 * two members with the same key the last counts, as in json-c and jsonb.
 */
const CfNode *
cfn_get(const CfNode *object, const char *dotted_path)
{
	const char *segment = dotted_path;

	for (;;)
	{
		const char *dot = strchr(segment, '.');
		size_t		seglen = dot ? (size_t) (dot - segment) : strlen(segment);
		const CfNode *found = NULL;

		if (cfn_type(object) != CFJ_OBJECT)
			return NULL;
		for (const CfNode *key = cfn_child(object); key != NULL; key = cfn_next(cfn_next(key)))
			if (key_is(key, segment, seglen))
				found = cfn_next(key);
		if (found == NULL || dot == NULL)
			return found;
		object = found;
		segment = dot + 1;
	}
}

/* The value as json-c parses it (NULL for a JSON null), tracked by owner. */
CfJson *
cfn_to_json(const CfNode *node, MemoryContext owner)
{
	/* the tape's pass checked its UTF-8 already */
	return cfj_parse_again(node->text, node->len, owner);
}

/* Compact JSON text of a value, as cfj_serialize() writes it. */
char *
cfn_serialize(const CfNode *node)
{
	return cfj_serialize(cfn_to_json(node, CurrentMemoryContext));
}
