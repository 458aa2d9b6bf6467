/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Alertmanager sink (API v2): records go out in batches to
 * <base URL>/api/v2/alerts. Alertmanager forgets an alert once its endsAt
 * has passed, so a firing alert is sent with endsAt 2 minutes ahead and
 * then re-sent on an interval while it fires; a resolved one is sent with
 * endsAt set to when it resolved. The alerts firing at the peer (the
 * firing set) are kept in the target's spool, and so across restarts.
 */
#ifndef ABUSEWATCH_ALERTMANAGER_H
#define ABUSEWATCH_ALERTMANAGER_H

#include <stddef.h>

#include "http.h"
#include "spool.h"

struct alertmanager;

/*
 * The sink for @base_url (no trailing slash); @display_url is for the
 * logs. It keeps its firing set in @spool, which must outlive it. Firing
 * alerts are re-sent every @resend_interval_s. NULL (errno set) on failure.
 */
struct alertmanager *alertmanager_new(const char *base_url, const char *display_url,
				      struct spool *spool, double resend_interval_s);
/* NULL is fine. */
void alertmanager_free(struct alertmanager *alertmanager);

/*
 * Reads the firing set an earlier run left; unreadable lines are counted
 * in *@skipped. What was firing is re-sent at once, else a cycle from now.
 */
void alertmanager_load(struct alertmanager *alertmanager, size_t *skipped);

/*
 * One POST of the oldest records of @queue. What was delivered, or refused
 * for good (logged and counted), is taken off @queue, counted in *@done
 * and applied to the firing set. After a refused batch the next records
 * go one at a time, so that one bad record does not hold up the others.
 */
enum http_result alertmanager_send(struct alertmanager *alertmanager, struct http_client *client,
				   struct spool_list *queue, size_t *done, char *why,
				   size_t why_size);

/* When the firing set is due for a re-send (monotonic); INFINITY when nothing fires. */
double alertmanager_next_resend(const struct alertmanager *alertmanager);

/*
 * Re-sends the firing set with a fresh endsAt; unless the peer could not
 * be reached, the next re-send is then an interval after @now (monotonic).
 */
enum http_result alertmanager_resend(struct alertmanager *alertmanager, struct http_client *client,
				     double now, char *why, size_t why_size);

/* Writes the firing set to the spool if it changed since last time. */
void alertmanager_save(struct alertmanager *alertmanager);

#endif
