/* fuzz-sigv4.c -- libFuzzer target: SigV4 signing of a raw request
 * (daemon/sigv4.c, sigv4_sign_raw: the .req parser, canonicalisation,
 * signing). Input: one flags byte (bit 0: normalise the path; bit 1: a
 * session token), then the request text. A signature, when produced, must
 * be 64 lower-case hex digits and the Authorization value must name it. */
#include "fuzz.h"
#include "llmux-errno.h"
#include "sigv4.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigv4_creds c = {
        .access_key = "AKIDEXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .region = "us-east-1",
        .service = "service",
    };
    struct sigv4_out out;
    char *copy;
    int r;

    if (size < 1)
        return 0;
    if (data[0] & 2)
        c.session_token = "AQoDYXdzEPT//////////wEXAMPLEtc764";
    if ((copy = malloc(size - 1 ? size - 1 : 1)) == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    memset(&out, 0, sizeof(out));
    r = sigv4_sign_raw(&c, copy, size - 1, data[0] & 1,
                       (time_t)1440938160, &out);
    if (r == 0) {
        FUZZ_ASSERT(strlen(out.signature) == SIGV4_HEX_LEN);
        for (size_t i = 0; i < SIGV4_HEX_LEN; i++)
            FUZZ_ASSERT(strchr("0123456789abcdef", out.signature[i]));
        FUZZ_ASSERT(out.authorization.p != NULL &&
                    strstr(out.authorization.p, out.signature) != NULL);
        FUZZ_ASSERT(strstr(out.authorization.p, c.secret_key) == NULL);
    } else {
        FUZZ_ASSERT(r == LLMUX_EBADREQ || r == LLMUX_ETOOBIG || r == -ENOMEM);
    }
    sigv4_out_free(&out);
    free(copy);
    return 0;
}
