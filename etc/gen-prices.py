#!/usr/bin/python3
"""gen-prices.py -- etc/prices.json from LiteLLM's price table.

Usage: etc/gen-prices.py model_prices_and_context_window.json SNAPSHOT > etc/prices.json

Keeps, of every entry of LiteLLM's model_prices_and_context_window.json
(BerriAI/litellm, MIT; prices are facts), only what llmuxd's cost
computation and its context checks read: the per-token prices, their
above-200k-token tiers, the context window, the provider and the mode.
SNAPSHOT says in the output where the JSON came from and when; the
"_source" object at the top carries it with the way to refresh, and
llmuxd skips it. Data only: no LiteLLM code. The output is one entry a
line, keys sorted, so a refresh is a readable diff and the same input
always gives the same bytes (tests/integration/test_prices.py checks it).
"""

import json
import sys

# Numbers (USD per token, or tokens).
NUMBERS = (
    'input_cost_per_token', 'output_cost_per_token',
    'cache_read_input_token_cost', 'cache_creation_input_token_cost',
    'output_cost_per_reasoning_token',
    'input_cost_per_token_above_200k_tokens',
    'output_cost_per_token_above_200k_tokens',
    'cache_read_input_token_cost_above_200k_tokens',
    'cache_creation_input_token_cost_above_200k_tokens',
    'max_input_tokens', 'max_output_tokens',
)
STRINGS = ('litellm_provider', 'mode')

REFRESH = ('git clone https://github.com/BerriAI/litellm (or its verbatim '
           'mirror RoCry/llm-api-price), then etc/gen-prices.py '
           'model_prices_and_context_window.json "BerriAI/litellm main as '
           'of DATE, commit C" > etc/prices.json and the same for '
           'daemon/modeltab.inc with etc/gen-modeltab.py; commit both')


def keep(entry):
    out = {}
    for k in NUMBERS:
        v = entry.get(k)
        # bool is an int to Python; a price is never a boolean.
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
            out[k] = v
    for k in STRINGS:
        v = entry.get(k)
        if isinstance(v, str):
            out[k] = v
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split('\n\n')[1])
    path, snapshot = sys.argv[1], sys.argv[2]
    with open(path) as f:
        table = json.load(f)
    source = {
        'what': "LiteLLM's model_prices_and_context_window.json, "
                'these fields only: ' + ', '.join(NUMBERS + STRINGS),
        'upstream': 'https://github.com/BerriAI/litellm/blob/main/'
                    'model_prices_and_context_window.json',
        'license': 'MIT (BerriAI/litellm); prices are facts',
        'snapshot': snapshot,
        'generated_by': 'etc/gen-prices.py',
        'refresh': REFRESH,
    }
    out = sys.stdout
    out.write('{"_source":%s' % json.dumps(source, sort_keys=True))
    n = 0
    for name in sorted(table):
        e = table[name]
        if not isinstance(e, dict) or name == 'sample_spec':
            continue
        out.write(',\n%s:%s' % (json.dumps(name),
                                json.dumps(keep(e), sort_keys=True,
                                           separators=(',', ':'))))
        n += 1
    out.write('\n}\n')
    print('gen-prices: %d models' % n, file=sys.stderr)


if __name__ == '__main__':
    main()
