/* gov_hooks.c: dispatches the event path's hook points to the governance policies. */
#include "balai.h"

#include <string.h>

#include "api/gov_hooks.h"
#include "api/org_rooms.h"
#include "api/rules.h"
#include "api/stewardship.h"

int balai_api_gov_before_event(struct balai_app *app, struct balai_room *room,
                               const struct balai_state_lookup *view, const char *sender,
                               const char *type, const char *state_key, const json_t *content,
                               char *reason, size_t reasonlen)
{
    if (!app->org_rooms || balai_room_is_direct(room))
        return BALAI_OK;
    int rc =
        balai_api_org_rooms_check(app, view, sender, type, state_key, content, reason, reasonlen);
    if (rc == BALAI_OK && state_key &&
        (strcmp(type, "m.room.power_levels") == 0 || strcmp(type, "m.room.member") == 0))
        rc = balai_api_stewardship_check(app, room, view, sender, type, state_key, content, reason,
                                         reasonlen);
    if (rc == BALAI_OK && state_key && strcmp(type, "m.room.member") == 0)
        rc = balai_api_rules_check_member(app, room, view, sender, state_key, content, reason,
                                          reasonlen); /* mandatory rooms */
    return rc;
}

void balai_api_gov_after_event(struct balai_app *app, struct balai_room *room,
                               const struct balai_ev *ev)
{
    if (!app->org_rooms || !ev->state_key || balai_room_is_direct(room))
        return;
    balai_api_org_rooms_committed(app, room, ev);
    if (ev->membership)
        balai_api_rules_member_committed(app, room, ev); /* opt-outs of rule rooms */
}
