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
sample_item(CfSample *sample, CfColumnMap *maps, const CfNode *item, TupleTableSlot *slot,
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
	CfClient	client;
	CfColumnMap *maps;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	MemoryContext pagecxt = AllocSetContextCreate(CurrentMemoryContext, "cloud_fdw analyze page",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "cloud_fdw analyze row",
												 ALLOCSET_DEFAULT_SIZES);
	CfSample	sample = {CurrentMemoryContext, rows, targrows, 0, 0};
	CfPageCursor cursor = {0};
	double		total = -1;

	cf_get_options(RelationGetRelid(rel), &opts);
	/* as postgres_fdw does, ANALYZE reads with the table owner's mapping */
	cf_client_open(&client, GetUserMapping(rel->rd_rel->relowner, opts.serverid), &opts);
	maps = cf_column_maps(rel, opts.resource, true, NULL);
	cf_first_page(opts.resource, opts.page_size, &cursor);

	while (!cursor.done && (total < 0 || sample.nrows < targrows))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(pagecxt);
		ErrorContextCallback errcallback;
		CfRequest	req;
		CfHttpResponse resp;
		const CfNode *page;
		const CfNode *items;

		CHECK_FOR_INTERRUPTS();
		cf_build_request(opts.resource->list, NULL, 0, &opts, &cursor, false, &req);
		cf_push_request_context(&errcallback, &req);
		page = cf_call_answer(&client, &req, false, pagecxt, &resp);
		cf_check_partial_errors(&opts, page, RelationGetRelationName(rel));
		items = cf_page_items(opts.resource, page);
		cfn_foreach_element(item, items)
			sample_item(&sample, maps, item, slot, rowcxt);
		if (cf_page_total(opts.resource, page) >= 0)
			total = cf_page_total(opts.resource, page);
		error_context_stack = errcallback.previous;

		/* the cursor's memory must outlive the page */
		MemoryContextSwitchTo(oldcxt);
		cf_advance_cursor(opts.resource, page, items, &cursor);
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
