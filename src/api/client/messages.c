/* messages.c: (being written) */
#include "balai.h"

#include "api/common.h"

int balai_api_client_messages_routes(struct balai_app *app)
{
    (void)app;
    return BALAI_OK;
}
