/*
 * libFuzzer target: response bodies through cloud_fdw's JSON layer
 * (src/json.c) the way the engine uses it: parse, find the item array,
 * read fields by dotted paths, serialize, compare, and build merge patches
 * and nested update bodies from what was read.  Errors are PostgreSQL
 * errors (longjmp to here); everything is released by the arena reset, so
 * AddressSanitizer and LeakSanitizer check the error paths too.
 */
#include "postgres.h"

#include "cf_json.h"
#include "pg_shim.h"

static const char *const paths[] = {
	"data", "result", "enterprise_projects", "id", "name", "config",
	"config.networking.type", "config.networking.allowed_hosts", "metadata",
	"error", "error.type", "error.message", "error_code", "has_more",
	"next_page", "last_id", "total", "total_count", "a.b.c.d.e",
};

static void
exercise(CfJson *doc)
{
	CfJson	   *body = cfj_new_object(CurrentMemoryContext);
	CfJson	   *items = NULL;
	size_t		len;

	(void) cfj_serialize(doc);
	for (int i = 0; i < lengthof(paths); i++)
	{
		CfJson	   *value = cfj_get(doc, paths[i]);

		(void) cfj_has(doc, paths[i]);
		switch (cfj_type(value))
		{
			case CFJ_STRING:
				(void) cfj_string(value, &len);
				break;
			case CFJ_BOOL:
				(void) cfj_bool(value);
				break;
			case CFJ_ARRAY:
				if (items == NULL)
					items = value;
				break;
			default:
				break;
		}
		(void) cfj_set_path(body, paths[i], value, CurrentMemoryContext);
	}
	if (items == NULL)
		items = doc;
	if (cfj_type(items) == CFJ_ARRAY)
	{
		int			n = cfj_array_length(items);

		for (int i = 0; i < n && i < 64; i++)
		{
			CfJson	   *item = cfj_array_get(items, i);

			(void) cfj_serialize(item);
			(void) cfj_merge_diff(item, cfj_array_get(items, (i + 1) % n), CurrentMemoryContext);
			(void) cfj_set_path(body, "config.networking.type", item, CurrentMemoryContext);
		}
	}
	(void) cfj_merge_diff(doc, body, CurrentMemoryContext);
	(void) cfj_serialize(body);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sigsetjmp(shim_error_jump, 0) == 0)
	{
		CfJson	   *doc = cfj_parse((const char *) data, size, CurrentMemoryContext);

		exercise(doc);
		/* the lenient parser must agree with the strict one */
		if ((cfj_try_parse((const char *) data, size, CurrentMemoryContext) == NULL) !=
			(doc == NULL))
			abort();
	}
	shim_reset_arena();
	return 0;
}
