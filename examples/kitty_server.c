/* kitty_server.c: the kitty shop from "What is OTP?", as a gensup server.
 *
 * Order a cat and you get it made to your description, unless someone has
 * returned one: a returned cat is handed out first, whatever you asked for
 * (the shop is in it for the money). Closing the shop sets the cats in
 * stock free.
 *
 * In Erlang this is a gen_server callback module; here it is a table of
 * callbacks (gs_server_ops) and gs_server_main() is the generic part: the
 * loop, the socket, calls and replies, system requests, and talking to
 * gensupd when it runs under one. The messages are in kitty.proto.
 *
 *   kitty_server [--socket PATH] [--name NAME]     (see gensup(3))
 *   kitty order carl brown "loves to burn bridges" (see kitty.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gensup.h"
#include "kitty.pb-c.h"

/* The state is the stock, a stack as the seed's [Cat|Cats]: the cat
 * returned last is handed out first. */
struct cat {
        struct cat *next;
        char *name, *color, *description;
};

struct shop {
        struct cat *stock;
};

static struct cat *cat_free(struct cat *c) {
        if (c) {
                free(c->name);
                free(c->color);
                free(c->description);
                free(c);
        }
        return NULL;
}

static struct cat *cat_new(const char *name, const char *color, const char *description) {
        struct cat *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->name = strdup(name);
        c->color = strdup(color);
        c->description = strdup(description);
        if (!c->name || !c->color || !c->description)
                return cat_free(c);
        return c;
}

/* init/1: {ok, []}. The shop opens with nothing in stock. */
static gs_ret kitty_init(gs_server *s, int argc, char **argv, void **ret_state) {
        struct shop *shop = calloc(1, sizeof(*shop));
        if (!shop)
                return gs_ret_stop("out_of_memory");
        *ret_state = shop;
        return gs_ret_ok();
}

/* handle_call/3. The reply is a Cat for an order, Ok for close_shop. */
static gs_ret kitty_handle_call(gs_server *s, void *state, const gs_from *from, const gs_msg *req, gs_buf *reply) {
        struct shop *shop = state;
        Kitty__KittyCall *call = (Kitty__KittyCall *) gs_msg_unpack(req, &kitty__kitty_call__descriptor);
        gs_ret r;

        /* A request we cannot read matches no clause: as in Erlang, let it
         * crash. The caller sees the exit reason; a supervisor would start
         * a fresh shop. */
        if (!call)
                return gs_ret_stop("bad_call");

        switch (call->request_case) {
        case KITTY__KITTY_CALL__REQUEST_ORDER: {
                /* {reply, Cat, Cats}: a returned cat if there is one, else
                 * the cat asked for, made on the spot. */
                struct cat *c = shop->stock;
                if (c)
                        shop->stock = c->next;
                Kitty__Cat out = KITTY__CAT__INIT;
                out.name = c ? c->name : call->order->name;
                out.color = c ? c->color : call->order->color;
                out.description = c ? c->description : call->order->description;
                r = gs_buf_pack(reply, &out.base) < 0 ? gs_ret_stop("out_of_memory") : gs_ret_reply();
                cat_free(c);
                break;
        }
        case KITTY__KITTY_CALL__REQUEST_CLOSE: {
                /* {stop, normal, ok, Cats}: terminate runs first, then the
                 * caller gets Ok, so when close_shop returns the cats are
                 * free and the server is gone. */
                Kitty__Ok ok = KITTY__OK__INIT;
                r = gs_buf_pack(reply, &ok.base) < 0 ? gs_ret_stop("out_of_memory") : gs_ret_stop_reply("normal");
                break;
        }
        case KITTY__KITTY_CALL__REQUEST__NOT_SET:
        default:
                r = gs_ret_stop("bad_call");
                break;
        }

        protobuf_c_message_free_unpacked(&call->base, NULL);
        return r;
}

/* handle_cast/2: {return, Cat} -> {noreply, [Cat|Cats]}. */
static gs_ret kitty_handle_cast(gs_server *s, void *state, const gs_msg *req) {
        struct shop *shop = state;
        Kitty__KittyCast *cast = (Kitty__KittyCast *) gs_msg_unpack(req, &kitty__kitty_cast__descriptor);
        gs_ret r = gs_ret_ok();

        if (!cast || cast->message_case != KITTY__KITTY_CAST__MESSAGE_RETURN_CAT)
                r = gs_ret_stop("bad_cast");
        else {
                Kitty__Cat *in = cast->return_cat;
                struct cat *c = cat_new(in->name, in->color, in->description);
                if (c) {
                        c->next = shop->stock;
                        shop->stock = c;
                } else
                        r = gs_ret_stop("out_of_memory");
        }

        if (cast)
                protobuf_c_message_free_unpacked(&cast->base, NULL);
        return r;
}

/* terminate/2: the last word, whatever the reason (close_shop, or a
 * shutdown from gensupd). The shop owns the cats, so it frees them. */
static void kitty_terminate(gs_server *s, void *state, const char *reason) {
        struct shop *shop = state;

        while (shop->stock) {
                struct cat *c = shop->stock;
                shop->stock = c->next;
                fprintf(stderr, "%s was set free.\n", c->name);
                cat_free(c);
        }
        free(shop);
}

/* format_status/1, for `kitty state` and `gensupctl get-state`. */
static int kitty_format_status(gs_server *s, void *state, gs_buf *out) {
        const struct shop *shop = state;
        size_t n = 0;
        int r;

        for (const struct cat *c = shop->stock; c; c = c->next)
                n++;
        if (n == 0)
                return gs_buf_printf(out, "no cats in stock");
        r = gs_buf_printf(out, "%zu %s in stock:", n, n == 1 ? "cat" : "cats");
        for (const struct cat *c = shop->stock; c && r >= 0; c = c->next)
                r = gs_buf_printf(out, " %s%s", c->name, c->next ? "," : "");
        return r;
}

/* No handle_info: as in OTP, a stray message is dropped (and counted). */
static const gs_server_ops kitty_ops = {
        .init = kitty_init,
        .handle_call = kitty_handle_call,
        .handle_cast = kitty_handle_cast,
        .terminate = kitty_terminate,
        .format_status = kitty_format_status,
};

int main(int argc, char **argv) {
        /* Named "kitty" (socket <runtime_dir>/kitty.sock) unless --name, or
         * gensupd's child spec, says otherwise. */
        static const gs_server_options opts = { .name = "kitty" };

        return gs_server_main_with(&kitty_ops, &opts, argc, argv);
}
