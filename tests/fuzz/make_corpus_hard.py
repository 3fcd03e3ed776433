#!/usr/bin/env python3
"""Writes the seed corpora of the hardening fuzz targets
(tests/fuzz/corpus/fuzz_{duration,url,vars,scenario}/); make_corpus.py writes
the reader's and the schema mapper's. Formats: see each target's header."""
import glob
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

DURATIONS = [
    '10', '0', '30s', '5m', '2h', '500ms', '1.5s', '0.001s', '0.0005s', '1.25m', '.5h',
    '1m30s', '', '-1', '-0s', '1e3', '10 s', 's', '.', '1.', '99999999999999999999h',
    '9223372036854775807ms', '9223372036854775808ms', '2562047788015h', '2562047788016h',
    '153722867280912m', '0x10', '10S', '10sec', '1..2s', '+5s', '5ms\n', '00000000001m',
    '1.99999999999999999999s',
    # found by fuzz_duration: what wf_format_duration writes must parse
    '1m15s', '1h2m3.004s', '1h0m5s', '1m1h', '1s1s', '1m30', '1ms5s', '2h30m',
]

URLS = [
    'api.example.com', 'api.example.com:8443', 'https://api.example.com/corp-api/compass/api',
    'https://api.example.com/corp-api/compass/api/', 'http://127.0.0.1:8080/corp-api/compass/api',
    'http://localhost:1/x', 'http://[::1]:5/p', 'http://[::ffff:127.0.0.1]/',
    'http://127.1/', 'http://0x7f.1/', 'http://2130706433/', 'http://example.com/',
    'http://127.0.0.1.example.com/', 'http://localhost.evil.com/', 'https://u:p@h/',
    'https://h/?q=1', 'https://h/#f', 'ftp://h/', 'file:///etc/passwd', 'https://',
    'https:///path', 'HTTPS://H.EXAMPLE.COM//', 'h/p', 'h?x', 'h@x', 'h x', 'h\\x',
    'https://h:99999/', 'https://h:0/', 'https://%68/', 'https://h%0d%0a/',
    'https://[::1/', 'http://[fe80::1%25eth0]/', 'https://xn--nxasmq6b.example/',
    'https://h/a b', 'https://h/\u00e9', '\n5', 'h\n101', 'h\n-1', 'h\n007\nacct id',
    'h\n\nacc\x7f',
    # found by fuzz_url: escapes in the host decoded by curl
    '%A1', '%33', 'https://%33/', 'https://h%2Fevil/', 'https://uttps://u:p@h/:p@h/',
    'https:///%345///x/', 'https:///h/x',
]

VARS = [
    (None, ['region=emea']),
    (None, ['a=1', 'b=2', 'a=3']),
    (None, ['noequals']),
    (None, ['=v']),
    (None, ['k=']),
    (None, ['k=v=w', 'k2==']),
    (None, ['caf\xc3\xa9=\xe2\x82\xac']),
    (None, ['k=\xc0\x80']),
    (None, ['k=\xed\xa0\x80']),
    (None, ['k=\xf4\x90\x80\x80']),
    (None, ['k="quoted" \\ back\x01ctl']),
    (b'{"region":"emea","n":"3"}', []),
    (b'{"region":"emea"}', ['region=apac']),
    (b'{"n":3}', []),
    (b'{"n":null}', []),
    (b'{"o":{}}', []),
    (b'[]', []),
    (b'', []),
    (b'   ', []),
    (b'{"a":"b"} x', []),
    (b'{"a":"b"}\n', []),
    (b'{"a":"\\u0000"}', []),
    (b'{"a\\u0000b":"c"}', []),
    (b'{"a":"\\ud800"}', []),
    (b'{"a":"\\udc00\\ud800"}', []),
    (b'{"\\ud83d\\ude00":"\\u00e9"}', []),
    (b'{"a":"\xc0\x80"}', []),
    (b'{"a":"\xed\xa0\x80"}', []),
    (b'{"":"x"}', []),
    (b'{"a":"1","a":"2"}', []),
    (b"{'a':'b'}", []),
    (b'{"a":NaN}', []),
    (b'{"a":"b",}', []),
    (b'{"a":' + b'[' * 40 + b']' * 40 + b'}', []),
    # found by fuzz_vars: an overlong form in a nested key (then in a nested
    # string) was sent; one UTF-8 check covers every depth
    (b'{"o":{"\xe0\x8c\x80":{}}}', []),
    (b'{"o":[{"k":"\xc0\x80"}]}', []),
]


def scenario_seeds():
    seeds = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'examples', '*.json'))):
        with open(path, 'rb') as f:
            seeds.append(f.read())
    base = {'api_key': 'k', 'account_id': 'a'}

    def sc(**kw):
        d = dict(base)
        d.update(kw)
        return json.dumps(d, separators=(',', ':')).encode()
    seeds += [
        sc(workflows={'w': {}}),
        sc(workflows={'w': {'generate': {'rows': 3, 'shape': 'mixed', 'data_first': True}}}),
        sc(workflows={'w': {'generate': {'rows': 5, 'rows_as': 'arrays', 'report_rows': 9,
                                         'seed': 7}}}),
        sc(workflows={'w': {'result_file': 'r.json'}}),
        sc(workflows={'w': {'result_raw': '{"data":[NaN]}', 'result_content_type': 'text/html'}}),
        sc(workflows={'w': {'result': {'data': [{'a': 1}], 'schema': []},
                            'partial_result': '{}', 'session_id': 'a b/c%d?'}}),
        sc(workflows={'w': {'start_ms': 1, 'pending_ms': 2, 'final_status': 'errored',
                            'cards': [{'id': 'c', 'type': 't', 'ms': 3, 'status': 'errored',
                                       'error': 'boom', 'output': {'x': [1]}}]}},
           sessions={'s': {'workflow': 'w', 'age_ms': 5}}),
        sc(workflows={'w': {}}, faults=[
            {'endpoint': 'run', 'kind': 'status', 'status': 502, 'after_run': True,
             'body': '<html></html>', 'content_type': 'text/html'},
            {'endpoint': 'result', 'workflow': 'w', 'kind': 'retry_after', 'retry_after': 2,
             'times': -1, 'skip': 1},
            {'endpoint': 'session', 'kind': 'cut', 'after_bytes': 10},
            {'endpoint': 'any', 'kind': 'slow', 'chunk_bytes': 1, 'delay_ms': 0},
            {'endpoint': 'result', 'kind': 'hold_drop', 'hold_ms': 1},
            {'endpoint': 'result', 'kind': 'redirect', 'status': 307,
             'headers': {'X-A': 'b', 'Set-Cookie': 'c=d'}},
            {'endpoint': 'run', 'kind': 'close', 'body': {'error': 'x'}}]),
        sc(workflows={'w': {'result': {}, 'result_raw': ''}}),
        sc(workflows={'w': {'cards': [{'ms': -1}]}}),
        sc(workflows={'w': {'typo': 1}}),
        sc(workflows={'w': {}}, sessions={'s': {'workflow': 'nope'}}),
        sc(workflows={'w': {}}, faults=[{'endpoint': 'x', 'kind': 'status'}]),
        sc(workflows={'w': {}}, faults=[{'endpoint': 'run', 'kind': 'status',
                                         'headers': {'A': 'b\r\nInjected: 1'}}]),
        b'{"api_key":"k","account_id":"a","workflows":{"w":{"result":{"n":18446744073709551616}}}}',
        b'{"api_key":"k","account_id":"a","workflows":{}} trailing',
        b'{"api_key":"k","_x":1,"comment":"c","account_id":"a","workflows":{"w":{"result":'
        b'{"a":[1,2,{"b":"\\u00e9"}]}}}}',
        b'',
        b'[]',
    ]
    return seeds


def write(target, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def main():
    for t in DURATIONS:
        write('fuzz_duration', t.encode('utf-8', 'surrogatepass'))
    write('fuzz_duration', struct.pack('<q', 3723004) + b'1h2m3.004s')
    for u in URLS:
        write('fuzz_url', u.encode('latin-1') if all(ord(c) < 256 for c in u)
              else u.encode())
    for content, args in VARS:
        rest = b'\0'.join(a.encode('latin-1') for a in args)
        if content is None:
            write('fuzz_vars', b'\x00' + rest)
        else:
            write('fuzz_vars', b'\x01' + struct.pack('<H', len(content)) + content + rest)
    for s in scenario_seeds():
        write('fuzz_scenario', s)


if __name__ == '__main__':
    main()
