/*-------------------------------------------------------------------------
 *
 * analyze.c
 *		  ANALYZE of a foreign table: how many items the collection holds, and
 *		  a sample of them for column statistics.
 *
 * The planner needs the size of a collection to weigh one listing against
 * one get per outer row.  The listing is read page by page (each page in a
 * memory context of its own) with reservoir sampling; an API that reports
 * its total (offset and page-number listings) is trusted for the count
 * once the sample is full, so that a large collection is not read whole.
 * A resource listed only under a parent (CodeArts environments of an
 * application) cannot be counted and is skipped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/pg_prng.h"
#include "executor/tuptable.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "cloud_fdw.h"

typedef struct CfSample
{
	MemoryContext cxt;			/* ANALYZE's, where the sampled rows go */
	HeapTuple  *rows;
	int			targrows;
	int			nrows;
	double		seen;			/* items read so far */
} CfSample;

/* Keep an item with the probability reservoir sampling gives it. */
static void
sample_item(CfSample *sample, CfColumnMap *maps, CfJson *item, TupleTableSlot *slot,
			MemoryContext rowcxt)
{
	int			pos;
	MemoryContext oldcxt;

	sample->seen++;
	if (sample->nrows < sample->targrows)
		pos = sample->nrows++;
	else
	{
		pos = (int) (pg_prng_double(&pg_global_prng_state) * sample->seen);
		if (pos >= sample->targrows)
			return;
		heap_freetuple(sample->rows[pos]);
	}
	oldcxt = MemoryContextSwitchTo(rowcxt);
	cf_store_item(maps, item, NULL, 0, slot);
	MemoryContextSwitchTo(sample->cxt);
	sample->rows[pos] = ExecCopySlotHeapTuple(slot);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(rowcxt);
}

static int
acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
					double *totalrows, double *totaldeadrows)
{
	CfOptions	opts;
	CfCredentials creds;
	UserMapping *user;
	CfConnection *conn;
	CfColumnMap *maps;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	MemoryContext pagecxt = AllocSetContextCreate(CurrentMemoryContext, "cloud_fdw analyze page",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "cloud_fdw analyze row",
												 ALLOCSET_DEFAULT_SIZES);
	CfSample	sample = {CurrentMemoryContext, rows, targrows, 0, 0};
	CfPageCursor cursor = {0};
	char	   *call_request;
	double		total = -1;

	cf_get_options(RelationGetRelid(rel), &opts);
	/* as postgres_fdw does, ANALYZE reads with the table owner's mapping */
	user = GetUserMapping(rel->rd_rel->relowner, opts.serverid);
	cf_get_credentials(user, &opts, &creds);
	conn = cf_get_connection(user);
	maps = cf_column_maps(rel, opts.resource, NULL);
	call_request = cf_call_request(opts.resource->list, NULL, 0, &opts, false);
	cf_first_page(opts.resource, opts.page_size, &cursor);

	while (cursor.next_query != NULL && (total < 0 || sample.nrows < targrows))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(pagecxt);
		ErrorContextCallback errcallback;
		CfHttpRequest req = {
			.method = "GET",
			.endpoint = opts.endpoint,
			.path = cf_page_request(call_request, &cursor),
			.creds = &creds,
			.opts = &opts,
		};
		CfHttpResponse resp;
		CfJson	   *page;
		CfJson	   *items;
		CfJson	   *page_total;

		CHECK_FOR_INTERRUPTS();
		cf_push_request_context(&errcallback, &req);
		cf_send_request(conn, &req, &resp);
		if (resp.status < 200 || resp.status > 299)
			cf_report_http_error(&req, &resp);
		page = cfj_parse(resp.body, resp.body_len, pagecxt);
		items = cf_page_items(opts.resource, page);
		for (int i = 0; i < cfj_array_length(items); i++)
			sample_item(&sample, maps, cfj_array_get(items, i), slot, rowcxt);
		page_total = opts.resource->pagination->total_path
			? cfj_get(page, opts.resource->pagination->total_path) : NULL;
		if (cfj_type(page_total) == CFJ_NUMBER)
			total = strtod(cfj_serialize(page_total), NULL);
		error_context_stack = errcallback.previous;

		/* the cursor's memory must outlive the page */
		MemoryContextSwitchTo(oldcxt);
		cf_advance_cursor(opts.resource, opts.page_size, page, items, &cursor);
		MemoryContextReset(pagecxt);
	}

	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(pagecxt);
	MemoryContextDelete(rowcxt);
	*totalrows = Max(total, sample.seen);
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": %.0f items, %d in the sample",
					RelationGetRelationName(rel), *totalrows, sample.nrows)));
	return sample.nrows;
}

/*
 * ANALYZE is possible where the collection can be listed without a value
 * from a query: no required parameter, or one a table option supplies.
 */
bool
cloudAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
						 BlockNumber *totalpages)
{
	CfOptions	opts;
	const CfCall *list;

	cf_get_options(RelationGetRelid(relation), &opts);
	list = opts.resource->list;
	for (int i = 0; i < list->nparams; i++)
		if (list->params[i].required &&
			(list->params[i].table_option == NULL ||
			 cf_param_option(&opts, list->params[i].table_option) == NULL))
			return false;
	*func = acquire_sample_rows;
	*totalpages = 1;
	return true;
}
