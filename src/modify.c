/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  UPDATE: a partial body per changed row, field actions around it, the
 *		  row back from the API's answer; without RETURNING, several update
 *		  calls on their way at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "access/table.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "cloud_fdw.h"

/* Keys of rows changed remotely that an error names, at most. */
#define CF_APPLIED_KEYS_SHOWN 10

/* Name of the row identity column UPDATE carries to find the remote item. */
#define CF_KEY_JUNK_NAME "cloud_fdw_key"

typedef struct CfModifyState
{
	CfOptions	opts;
	CfCredentials creds;
	CfConnection *conn;
	CfColumnMap *maps;
	List	   *target_attrs;	/* updated columns, shallow JSON paths first */
	List	   *param_attrs;	/* columns whose old value fills call parameters */
	AttrNumber	key_attno;		/* junk attribute with the item's key */
	AttrNumber	key_column;		/* the table's column of the key */
	AttrNumber	wholerow_attno; /* junk attribute with the old row */
	MemoryContext rowcxt;		/* reset per row */
	int64		applied;		/* rows this statement changed remotely */
	List	   *applied_keys;	/* the first CF_APPLIED_KEYS_SHOWN of them */
	MemoryContext stmtcxt;		/* lives as long as the statement */
	int64		requests;
	const char *current_key;

	/*
	 * Without RETURNING or triggers nobody looks at the rows the API sends
	 * back, so update calls need not be waited for one by one: up to
	 * "concurrency" of them are on their way at once.
	 */
	bool		async;
	struct CfPendingWrite *pending;
	int			npending;
} CfModifyState;

/* An update call on its way, with what it needs until it is finished. */
typedef struct CfPendingWrite
{
	int			slot;
	MemoryContext cxt;
	CfHttpRequest req;
	char	   *key;
} CfPendingWrite;

int
cloudIsForeignRelUpdatable(Relation rel)
{
	const CfResource *resource = cf_table_resource(RelationGetRelid(rel));

	return (resource != NULL && resource->update != NULL) ? (1 << CMD_UPDATE) : 0;
}

/* UPDATE finds the remote item by its key, carried as a junk column. */
void
cloudAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							 RangeTblEntry *target_rte, Relation target_relation)
{
	CfOptions	opts;
	AttrNumber	attnum;
	Form_pg_attribute att;
	Var		   *var;

	cf_get_options(RelationGetRelid(target_relation), &opts);
	attnum = cf_key_attnum(target_relation, opts.resource);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no column for the key of resource \"%s\"",
						RelationGetRelationName(target_relation), opts.resource->name),
				 errhint("Add a column mapped to JSON path \"%s\" to update this table.",
						 cf_key_column(opts.resource)->path)));

	att = TupleDescAttr(RelationGetDescr(target_relation), attnum - 1);
	var = makeVar(rtindex, attnum, att->atttypid, att->atttypmod, att->attcollation, 0);
	add_row_identity_var(root, var, rtindex, CF_KEY_JUNK_NAME);
}

static int
path_depth(const char *path)
{
	int			depth = 0;

	for (; *path; path++)
		depth += (*path == '.');
	return depth;
}

/* The column mapped to a field, or InvalidAttrNumber. */
static AttrNumber
field_attnum(Relation rel, const char *field)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped &&
			strcmp(cf_column_path(RelationGetRelid(rel), i + 1), field) == 0)
			return i + 1;
	return InvalidAttrNumber;
}

/*
 * Check at plan time that every SET column is a field the API lets us
 * change and that the row carries what the update call's path needs, and
 * order the columns so that shallower JSON paths are written first.
 */
List *
cloudPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					   int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	CfOptions	opts;
	const CfCall *update;
	List	   *target_attrs = NIL;
	Bitmapset  *updated;
	Relation	rel;
	int			col = -1;

	if (plan->operation != CMD_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s foreign table \"%s\"",
						plan->operation == CMD_INSERT ? "insert into" : "delete from",
						get_rel_name(rte->relid)),
				 errdetail("cloud_fdw only updates existing cloud resources.")));

	cf_get_options(rte->relid, &opts);
	update = opts.resource->update;
	if (update == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\"", get_rel_name(rte->relid)),
				 errdetail("The cloud API offers no update call for resource \"%s\".",
						   opts.resource->name)));
	rel = table_open(rte->relid, NoLock);
	for (int i = 0; i < update->nparams; i++)
		if (update->params[i].in == CF_IN_PATH &&
			field_attnum(rel, update->params[i].field) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no column for \"%s\", which updates of resource \"%s\" need",
							get_rel_name(rte->relid), update->params[i].field, opts.resource->name),
					 errhint("Add a column mapped to JSON path \"%s\".", update->params[i].field)));
	table_close(rel, NoLock);

	updated = get_rel_all_updated_cols(root, find_base_rel(root, resultRelation));
	while ((col = bms_next_member(updated, col)) >= 0)
	{
		AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;
		const char *path;
		const CfColumn *governing;
		ListCell   *lc;
		int			pos = 0;

		if (attnum <= InvalidAttrNumber)
			elog(ERROR, "system-column update is not supported");
		path = cf_column_path(rte->relid, attnum);
		governing = cf_governing_column(opts.resource, path);
		if (governing == NULL || !(governing->flags & CF_COL_UPDATABLE))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
							get_attname(rte->relid, attnum, false), get_rel_name(rte->relid)),
					 governing == NULL
					 ? errdetail("JSON path \"%s\" is not a field resource \"%s\" is known to accept in an update.",
								 path, opts.resource->name)
					 : errdetail("The cloud API treats \"%s\" of resource \"%s\" as read-only.",
								 governing->path, opts.resource->name)));

		foreach(lc, target_attrs)
		{
			if (path_depth(cf_column_path(rte->relid, lfirst_int(lc))) > path_depth(path))
				break;
			pos++;
		}
		target_attrs = list_insert_nth_int(target_attrs, pos, attnum);
	}
	return list_make1(target_attrs);
}

void
cloudBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	Relation	rel = rinfo->ri_RelationDesc;
	Plan	   *subplan = outerPlanState(mtstate)->plan;
	const CfResource *resource;
	CfModifyState *state;
	UserMapping *user;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfModifyState));
	rinfo->ri_FdwState = state;
	cf_get_options(RelationGetRelid(rel), &state->opts);
	resource = state->opts.resource;
	user = cf_user_mapping_for(estate, rinfo->ri_RangeTableIndex, state->opts.serverid);
	cf_get_credentials(user, &state->opts, &state->creds);
	state->conn = cf_get_connection(user);
	state->maps = cf_column_maps(rel, resource, NULL);
	state->target_attrs = (List *) linitial(fdw_private);

	/* the old row fills the path parameters of the update and get calls */
	for (AttrNumber attnum = 1; attnum <= RelationGetNumberOfAttributes(rel); attnum++)
	{
		const char *path = cf_column_map_path(state->maps, attnum);

		if (path != NULL && cf_is_param_field(resource, path))
			state->param_attrs = lappend_int(state->param_attrs, attnum);
	}

	state->key_column = cf_key_attnum(rel, resource);
	state->key_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, CF_KEY_JUNK_NAME);
	state->wholerow_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
	if (!AttributeNumberIsValid(state->key_attno) ||
		!AttributeNumberIsValid(state->wholerow_attno))
		elog(ERROR, "could not find the junk columns of an UPDATE");

	state->rowcxt = AllocSetContextCreate(estate->es_query_cxt,
										  "cloud_fdw update row",
										  ALLOCSET_DEFAULT_SIZES);
	state->async = (((ModifyTable *) mtstate->ps.plan)->returningLists == NIL &&
					rinfo->ri_TrigDesc == NULL);
	state->pending = palloc0(sizeof(CfPendingWrite) * state->opts.concurrency);
	state->stmtcxt = CurrentMemoryContext;
}

/* Count a row the API changed, and remember its key for an error to name. */
static void
note_applied(CfModifyState *state, const char *key)
{
	MemoryContext oldcxt;

	if (++state->applied > CF_APPLIED_KEYS_SHOWN)
		return;
	/* the list outlives the row: not in the row's context */
	oldcxt = MemoryContextSwitchTo(state->stmtcxt);
	state->applied_keys = lappend(state->applied_keys, pstrdup(key));
	MemoryContextSwitchTo(oldcxt);
}

/* The keys of the rows changed remotely, sorted: writes finish in any order. */
static char *
applied_keys_text(CfModifyState *state)
{
	List	   *keys = list_copy(state->applied_keys);
	StringInfoData buf;
	ListCell   *lc;

	list_sort(keys, cf_compare_strings);
	initStringInfo(&buf);
	foreach(lc, keys)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", (char *) lfirst(lc));
	if (state->applied > CF_APPLIED_KEYS_SHOWN)
		appendStringInfoString(&buf, ", ...");
	return buf.data;
}

/*
 * A failed update aborts the transaction, but rows already sent stay
 * changed: the cloud API is not transactional.  Say so.
 */
static void
update_context(void *arg)
{
	CfModifyState *state = (CfModifyState *) arg;

	if (state->applied == 0)
		errcontext("updating item \"%s\" of resource \"%s\"",
				   state->current_key, state->opts.resource->name);
	else
		errcontext("updating item \"%s\" of resource \"%s\"; rows of this statement "
				   "already changed remotely, which stay changed: " INT64_FORMAT " (%s)",
				   state->current_key, state->opts.resource->name, state->applied,
				   applied_keys_text(state));
	if (state->npending > 1)
		errcontext("other update requests of this statement still on their way, "
				   "which may or may not be applied: %d", state->npending - 1);
}

/* Send one write (or get) call of the row; returns the parsed answer or NULL. */
static CfJson *
row_call(CfModifyState *state, const CfCall *call, const CfParamValue *values,
		 int nvalues, const char *body)
{
	ErrorContextCallback errcallback;
	CfHttpRequest req = {
		.method = call->method,
		.endpoint = state->opts.endpoint,
		.body = body,
		.creds = &state->creds,
		.opts = &state->opts,
	};
	CfHttpResponse resp;
	CfJson	   *answer = NULL;

	req.path = cf_call_request(call, values, nvalues, &state->opts, false);
	cf_push_request_context(&errcallback, &req);
	cf_send_request(state->conn, &req, &resp);
	state->requests++;
	if (resp.status < 200 || resp.status > 299)
		cf_report_http_error(&req, &resp);
	if (resp.body_len > 0)
		answer = cfj_parse(resp.body, resp.body_len, state->rowcxt);
	error_context_stack = errcallback.previous;
	return answer;
}

static void
run_actions(CfModifyState *state, List *actions, const CfParamValue *values, int nvalues)
{
	ListCell   *lc;

	foreach(lc, actions)
		(void) row_call(state, state->opts.resource->action, values, nvalues,
						((const CfFieldAction *) lfirst(lc))->body);
}

/* Start an update call without waiting for it. */
static void
start_write(CfModifyState *state, EState *estate, const CfParamValue *values,
			int nvalues, CfJson *body)
{
	CfPendingWrite *w = &state->pending[state->npending];
	MemoryContext oldcxt;

	w->cxt = AllocSetContextCreate(estate->es_query_cxt, "cloud_fdw write",
								   ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(w->cxt);
	memset(&w->req, 0, sizeof(CfHttpRequest));
	w->req.method = state->opts.resource->update->method;
	w->req.endpoint = state->opts.endpoint;
	w->req.path = cf_call_request(state->opts.resource->update, values, nvalues,
								  &state->opts, false);
	w->req.body = cfj_serialize(body);
	w->req.creds = &state->creds;
	w->req.opts = &state->opts;
	w->key = pstrdup(state->current_key);
	MemoryContextSwitchTo(oldcxt);
	w->slot = cf_http_start(state->conn, &w->req, w->cxt);
	state->npending++;
	state->requests++;
}

/* Take the answer of a finished update call; false if the API refused it. */
static bool
finish_write(CfModifyState *state, CfPendingWrite *w, CfHttpResponse *resp)
{
	ErrorContextCallback errcallback;
	MemoryContext oldcxt = MemoryContextSwitchTo(w->cxt);

	cf_push_request_context(&errcallback, &w->req);
	cf_http_finish(state->conn, w->slot, resp, NULL);
	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	return resp->status >= 200 && resp->status <= 299;
}

static void
forget_write(CfModifyState *state, CfPendingWrite *w)
{
	MemoryContextDelete(w->cxt);
	*w = state->pending[--state->npending];
}

/*
 * Wait for any update call on its way.  When the API refuses one, no new
 * call is started; those already sent are waited for, so that the error can
 * say exactly how many rows were changed remotely.
 */
static void
complete_write(CfModifyState *state)
{
	int			slot = cf_http_wait(state->conn, -1);
	CfPendingWrite *w = NULL;
	CfHttpResponse resp;
	ErrorContextCallback update_errcallback;
	ErrorContextCallback request_errcallback;

	for (int i = 0; i < state->npending; i++)
		if (state->pending[i].slot == slot)
			w = &state->pending[i];
	if (w == NULL)
		elog(ERROR, "finished HTTP transfer belongs to no update");

	state->current_key = w->key;
	cf_push_error_context(&update_errcallback, update_context, state);
	if (finish_write(state, w, &resp))
	{
		error_context_stack = update_errcallback.previous;
		note_applied(state, w->key);
		forget_write(state, w);
		return;
	}

	/* settle the others, then report this refusal */
	while (state->npending > 1)
	{
		CfPendingWrite *other = NULL;
		CfHttpResponse other_resp;

		slot = cf_http_wait(state->conn, -1);
		for (int i = 0; i < state->npending; i++)
			if (state->pending[i].slot == slot && &state->pending[i] != w)
				other = &state->pending[i];
		if (other == NULL)
			elog(ERROR, "finished HTTP transfer belongs to no update");
		if (finish_write(state, other, &other_resp))
			note_applied(state, other->key);
		/* keep the failed write's entry in place while others move */
		if (other != &state->pending[state->npending - 1] &&
			w == &state->pending[state->npending - 1])
			w = other;
		forget_write(state, other);
	}
	state->current_key = w->key;
	cf_push_request_context(&request_errcallback, &w->req);
	cf_report_http_error(&w->req, &resp);
}

static void
complete_all_writes(CfModifyState *state)
{
	while (state->npending > 0)
		complete_write(state);
}

TupleTableSlot *
cloudExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	CfModifyState *state = (CfModifyState *) rinfo->ri_FdwState;
	const CfResource *resource = state->opts.resource;
	TupleDesc	tupdesc = RelationGetDescr(rinfo->ri_RelationDesc);
	MemoryContext oldcxt;
	Datum		datum;
	bool		isnull;
	HeapTupleData oldtuple;
	Datum	   *oldvalues;
	bool	   *oldnulls;
	CfRowUpdate update;
	CfParamValue *values;
	int			nvalues = 0;
	ErrorContextCallback errcallback;
	CfJson	   *item = NULL;
	ListCell   *lc;

	MemoryContextReset(state->rowcxt);
	oldcxt = MemoryContextSwitchTo(state->rowcxt);

	datum = ExecGetJunkAttribute(planSlot, state->key_attno, &isnull);
	if (isnull)
		elog(ERROR, "key of the row to update is null");
	state->current_key = cf_datum_to_text(state->maps, state->key_column, datum);

	datum = ExecGetJunkAttribute(planSlot, state->wholerow_attno, &isnull);
	if (isnull)
		elog(ERROR, "old row of the row to update is null");
	oldtuple.t_data = DatumGetHeapTupleHeader(datum);
	oldtuple.t_len = HeapTupleHeaderGetDatumLength(oldtuple.t_data);
	oldvalues = palloc(sizeof(Datum) * tupdesc->natts);
	oldnulls = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(&oldtuple, tupdesc, oldvalues, oldnulls);
	slot_getallattrs(slot);

	cf_plan_row_update(resource, state->maps, state->target_attrs, tupdesc->natts,
					   oldvalues, oldnulls, slot->tts_values, slot->tts_isnull,
					   state->rowcxt, &update);
	if (update.body == NULL && update.actions_before == NIL && update.actions_after == NIL)
	{
		/* nothing changed: nothing to send, and the row stays as it is */
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}

	values = palloc0(sizeof(CfParamValue) * Max(1, list_length(state->param_attrs)));
	foreach(lc, state->param_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);

		if (oldnulls[attnum - 1])
			continue;
		values[nvalues].field = cf_column_map_path(state->maps, attnum);
		values[nvalues++].value = cf_datum_to_text(state->maps, attnum, oldvalues[attnum - 1]);
	}

	if (state->async && update.actions_before == NIL && update.actions_after == NIL)
	{
		if (state->npending == state->opts.concurrency)
			complete_write(state);
		start_write(state, estate, values, nvalues, update.body);
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}
	/* a row that needs several calls in order: first finish the others */
	complete_all_writes(state);

	cf_push_error_context(&errcallback, update_context, state);

	run_actions(state, update.actions_before, values, nvalues);
	if (update.body != NULL)
	{
		CfJson	   *answer = row_call(state, resource->update, values, nvalues,
									  cfj_serialize(update.body));

		if (resource->update->returns_item && update.actions_after == NIL)
			item = resource->update->item_path
				? cfj_get(answer, resource->update->item_path) : answer;
	}
	run_actions(state, update.actions_after, values, nvalues);
	note_applied(state, state->current_key);

	/* the row comes back from the API: the update's answer, or a get */
	if (item == NULL)
	{
		CfJson	   *answer = row_call(state, resource->get, values, nvalues, NULL);

		item = resource->get->item_path ? cfj_get(answer, resource->get->item_path) : answer;
	}
	if (cfj_type(item) != CFJ_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the cloud API's answer holds no item object")));
	cf_store_item(state->maps, item, values, nvalues, slot);

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

void
cloudEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	CfModifyState *state = (CfModifyState *) rinfo->ri_FdwState;

	if (state != NULL)
	{
		complete_all_writes(state);
		MemoryContextDelete(state->rowcxt);
	}
}

void
cloudExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, ExplainState *es)
{
	CfOptions	opts;
	const CfCall *update;

	if (es->analyze && rinfo->ri_FdwState != NULL)
		ExplainPropertyInteger("Remote requests", NULL,
							   ((CfModifyState *) rinfo->ri_FdwState)->requests, es);
	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(rinfo->ri_RelationDesc), &opts);
	update = opts.resource->update;
	ExplainPropertyText("Remote request",
						psprintf("%s %s (changed columns of each row)", update->method,
								 cf_call_request(update, NULL, 0, &opts, true)),
						es);
}
