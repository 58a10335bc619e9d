/* `tally broker --control`: fault injection through a FIFO of commands. */
#ifndef BRK_CONTROL_H
#define BRK_CONTROL_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct brk_control;

/*
** Create a FIFO at 'path' (replacing a stale FIFO there, never another kind
** of file), truncate or create 'path'.log, and start a thread that reads
** newline-terminated commands from the FIFO and applies them to 'mc'
** ('mc' is borrowed and must outlive the control). Each command is logged
** and acknowledged by one line appended to 'path'.log: "ok <command>" or
** "error <command>: <why>". Returns 0 and sets '*out', or -1 with the
** reason on stderr.
*/
int brk_control_start(rd_kafka_mock_cluster_t *mc, const char *path,
                      struct brk_control **out);

/* Stop the thread and remove the FIFO (the log stays). Accepts NULL;
   sets '*pp' to NULL. */
void brk_control_stop(struct brk_control **pp);

/*
** Apply one command 'line' (no newline) to 'mc':
**     down ID | up ID | rtt ID MS | leader TOPIC PARTITION ID
**     errors APIKEY COUNT ERRCODE | clear APIKEY
** ID -1 means every broker. APIKEY is a number or a request name (Produce,
** Fetch, ...); ERRCODE a number or a librdkafka error name
** (NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...). Returns 0, or -1 with the
** reason in 'why' (size 'why_size').
*/
int brk_control_apply(rd_kafka_mock_cluster_t *mc, const char *line, char *why,
                      size_t why_size);

#endif
