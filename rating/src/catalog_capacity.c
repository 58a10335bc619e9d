/* A charge's `included_per_seat` (capacity licensing): allowance that grows
   with the plan's seats, by model_class or for every class. */
#include <stdio.h>
#include <string.h>

#include "catalog_load.h"

/* "medium, small": the classes plan 'pl' prices seats for. */
static void class_list(const struct rate_plan *pl, char *out, size_t size)
{
        size_t n = 0;

        out[0] = '\0';
        for (size_t i = 0; i < pl->seat_price_count && n < size; i++)
                n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "",
                                      pl->seat_prices[i].model_class);
}

void rate__load_per_seat(struct rate__ld *ld, const struct rate_plan *pl,
                         bool seats_written, const struct tl_yaml_node *n,
                         const char *path, struct rate_charge *ch)
{
        struct rate_seat_allowance *sa;
        char classes[160];

        if (!seats_written) {
                /* Without seats there is nothing for the allowance to grow
                   with: the key would silently do nothing. */
                rate__bad(ld, n, path,
                          "plan '%s' sells no seats, so a charge cannot have "
                          "an allowance per seat (add plans.%s.seats)",
                          pl->id, pl->id);
                return;
        }
        if (n->kind == TL_YAML_SCALAR) {
                ch->per_seat =
                    rate__number(ld, n, path, true, &ch->per_seat_every);
                return;
        }
        if (n->kind != TL_YAML_MAP) {
                rate__bad(ld, n, path,
                          "expected a number (for every model_class) or a "
                          "map of model_class to number");
                return;
        }
        if (n->count == 0) {
                rate__bad(ld, n, path, "needs at least one model_class");
                return;
        }
        if (!(sa = rate__alloc(ld, n->count, sizeof *sa)))
                return;
        class_list(pl, classes, sizeof classes);
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_node *k = n->pairs[i].key;
                char p[RATE__PATH_MAX];
                bool known = false;
                size_t j = ch->per_seat_count;

                snprintf(p, sizeof p, "%s.%s", path, k->text);
                for (size_t s = 0; s < pl->seat_price_count; s++)
                        known |= strcmp(pl->seat_prices[s].model_class,
                                        k->text) == 0;
                /* A class the seats do not price could never be active on
                   an invoice (rating refuses it): a typo, most likely. An
                   unreadable seats block was reported already. */
                if (!known && pl->seat_price_count) {
                        rate__bad(ld, k, p,
                                  "unknown model_class '%s': plan '%s' "
                                  "prices seats for %s",
                                  k->text, pl->id, classes);
                        continue;
                }
                if (!known)
                        continue;
                /* Kept sorted by class, as the seat lines are. */
                while (j > 0 && strcmp(sa[j - 1].model_class, k->text) > 0) {
                        sa[j] = sa[j - 1];
                        j--;
                }
                sa[j].model_class = rate__text(ld, k, p);
                if (!sa[j].model_class ||
                    !rate__number(ld, n->pairs[i].value, p, true,
                                  &sa[j].quantity)) {
                        memmove(&sa[j], &sa[j + 1],
                                (ch->per_seat_count - j) * sizeof *sa);
                        continue;
                }
                ch->per_seat_count++;
        }
        ch->per_seat_classes = sa;
        ch->per_seat = true;
}
