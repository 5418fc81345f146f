/*-------------------------------------------------------------------------
 *
 * ledger.c
 *		  What an UPDATE has changed remotely, so that a statement that ends
 *		  early says so.
 *
 * Cloud APIs are not transactional: a row whose PUT was answered stays
 * changed whatever happens to the transaction, and a PUT that got no
 * answer may or may not have been applied.  Every UPDATE of a foreign
 * table keeps a ledger of its rows: sent, applied, refused.  A statement
 * that completes forgets its ledger; one that ends early for any reason
 * (a refused PUT, a timeout, a cancel, a local error, a failing list page)
 * reports it with one WARNING: before the error, when the error is the
 * API's refusal that ends the statement (so that clients show the two in
 * that order), else when its (sub)transaction aborts, since only then is
 * it known that the statement will not go on.
 *
 * Ledgers live in a context of their own under TopMemoryContext: the
 * executor's memory may already be gone when the abort is reported.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "cloud_fdw.h"

/* Keys a WARNING names per list, at most. */
#define CF_LEDGER_KEYS_SHOWN 100

typedef struct CfLedgerEntry
{
	char	   *key;			/* hash key: the item's key, in the ledger's context */
	bool		changed;		/* some call for it was applied */
	bool		partly;			/* and some other was not */
	bool		in_doubt;		/* a call was sent and got no usable answer */
} CfLedgerEntry;

struct CfLedger
{
	char	   *relname;
	SubTransactionId subid;		/* opened in this subtransaction */
	MemoryContext cxt;
	HTAB	   *entries;		/* CfLedgerEntry by key */
	bool		reported;		/* its WARNING has been sent */
	CfLedger   *next;			/* open ledgers, newest first */
};

static MemoryContext ledger_context = NULL;
static CfLedger *open_ledgers = NULL;

static uint32
key_hash(const void *key, Size keysize)
{
	const char *text = *(char *const *) key;

	return string_hash(text, strlen(text) + 1);
}

static int
key_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

static void ledger_xact_callback(XactEvent event, void *arg);
static void ledger_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									SubTransactionId parentSubid, void *arg);

/* A new ledger for an UPDATE of the named foreign table. */
CfLedger *
cf_ledger_open(const char *relname)
{
	CfLedger   *ledger;
	HASHCTL		ctl;

	if (ledger_context == NULL)
	{
		ledger_context = AllocSetContextCreate(TopMemoryContext, "cloud_fdw ledgers",
											   ALLOCSET_SMALL_SIZES);
		RegisterXactCallback(ledger_xact_callback, NULL);
		RegisterSubXactCallback(ledger_subxact_callback, NULL);
	}
	ledger = MemoryContextAllocZero(ledger_context, sizeof(CfLedger));
	ledger->cxt = AllocSetContextCreate(ledger_context, "cloud_fdw ledger",
										ALLOCSET_DEFAULT_SIZES);
	ledger->relname = MemoryContextStrdup(ledger->cxt, relname);
	ledger->subid = GetCurrentSubTransactionId();
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(CfLedgerEntry);
	ctl.hash = key_hash;
	ctl.match = key_match;
	ctl.hcxt = ledger->cxt;
	ledger->entries = hash_create("cloud_fdw ledger entries", 64, &ctl,
								  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	ledger->next = open_ledgers;
	open_ledgers = ledger;
	return ledger;
}

static CfLedgerEntry *
find_entry(CfLedger *ledger, const char *key, bool *found)
{
	CfLedgerEntry *entry = hash_search(ledger->entries, &key, HASH_ENTER, found);

	if (!*found)
	{
		entry->key = MemoryContextStrdup(ledger->cxt, key);
		entry->changed = entry->partly = entry->in_doubt = false;
	}
	return entry;
}

/*
 * Take a row's key: false if the statement has had this item already, as
 * when UPDATE ... FROM joins it twice.  PostgreSQL updates a row once per
 * statement, so the second one is skipped.
 */
bool
cf_ledger_first_visit(CfLedger *ledger, const char *key)
{
	bool		found;

	(void) find_entry(ledger, key, &found);
	return !found;
}

/* A write call for the item is on its way: its outcome is unknown until answered. */
void
cf_ledger_sent(CfLedger *ledger, const char *key)
{
	bool		found;

	find_entry(ledger, key, &found)->in_doubt = true;
}

/* The API answered a write call for the item: applied, or refused. */
void
cf_ledger_answered(CfLedger *ledger, const char *key, bool applied)
{
	bool		found;
	CfLedgerEntry *entry = find_entry(ledger, key, &found);

	entry->in_doubt = false;
	if (applied)
		entry->changed = true;
	else if (entry->changed)
		entry->partly = true;
}

static void
forget(CfLedger *ledger)
{
	CfLedger  **link = &open_ledgers;

	while (*link != ledger)
		link = &(*link)->next;
	*link = ledger->next;
	MemoryContextDelete(ledger->cxt);
	pfree(ledger);
}

/* The statement completed: everything it did was reported by its result. */
void
cf_ledger_close(CfLedger *ledger)
{
	forget(ledger);
}

static int
compare_keys(const ListCell *a, const ListCell *b)
{
	return strcmp(((CfLedgerEntry *) lfirst(a))->key, ((CfLedgerEntry *) lfirst(b))->key);
}

/* '"k1", "k2" (partly), ...' for a sorted list of entries. */
static char *
key_list(List *entries, bool changed_list)
{
	StringInfoData buf;
	ListCell   *lc;
	int			shown = 0;

	initStringInfo(&buf);
	foreach(lc, entries)
	{
		CfLedgerEntry *entry = (CfLedgerEntry *) lfirst(lc);

		if (shown++ == CF_LEDGER_KEYS_SHOWN)
		{
			appendStringInfo(&buf, ", and %d more", list_length(entries) - CF_LEDGER_KEYS_SHOWN);
			break;
		}
		appendStringInfo(&buf, "%s\"%s\"%s", buf.len > 0 ? ", " : "", entry->key,
						 changed_list && (entry->partly || entry->in_doubt) ? " (partly)" : "");
	}
	return buf.data;
}

/*
 * The statement ended early: say what stays changed and what is in doubt.
 * A key with one call applied and another refused or unanswered is changed
 * "partly"; one with no call applied and one unanswered is in doubt.
 */
static void
report(CfLedger *ledger)
{
	HASH_SEQ_STATUS scan;
	CfLedgerEntry *entry;
	List	   *changed = NIL;
	List	   *in_doubt = NIL;
	StringInfoData detail;

	hash_seq_init(&scan, ledger->entries);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->changed)
			changed = lappend(changed, entry);
		else if (entry->in_doubt)
			in_doubt = lappend(in_doubt, entry);
	}
	if (changed == NIL && in_doubt == NIL)
		return;
	list_sort(changed, compare_keys);
	list_sort(in_doubt, compare_keys);

	initStringInfo(&detail);
	if (changed != NIL)
		appendStringInfo(&detail, "Changed remotely: %s.", key_list(changed, true));
	if (in_doubt != NIL)
		appendStringInfo(&detail, "%sIn doubt (sent, outcome unknown): %s.",
						 detail.len > 0 ? " " : "", key_list(in_doubt, false));
	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("UPDATE of foreign table \"%s\" ended early: rows changed remotely: %d, in doubt: %d",
					ledger->relname, list_length(changed), list_length(in_doubt)),
			 errdetail_internal("%s", detail.data),
			 errhint("Cloud APIs are not transactional: rows changed remotely stay changed.")));
}

/* The statement is about to end with an error of ours: report it now, once. */
void
cf_ledger_report(CfLedger *ledger)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ledger->cxt);
	ErrorContextCallback *context = error_context_stack;

	/* the statement's summary, not a message about the request at hand */
	error_context_stack = NULL;
	report(ledger);
	error_context_stack = context;
	ledger->reported = true;
	MemoryContextSwitchTo(oldcxt);
}

/* Report and forget the ledgers of subtransaction subid and later (or all). */
static void
report_open_ledgers(SubTransactionId subid)
{
	MemoryContext reportcxt;
	MemoryContext oldcxt;

	if (open_ledgers == NULL)
		return;
	/* the aborting transaction's memory is about to go: work in our own */
	reportcxt = AllocSetContextCreate(ledger_context, "cloud_fdw ledger report",
									  ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(reportcxt);
	while (open_ledgers != NULL &&
		   (subid == InvalidSubTransactionId || open_ledgers->subid >= subid))
	{
		CfLedger   *ledger = open_ledgers;

		if (!ledger->reported)
			report(ledger);
		forget(ledger);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(reportcxt);
}

static void
ledger_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		report_open_ledgers(InvalidSubTransactionId);
}

static void
ledger_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		report_open_ledgers(mySubid);
}
