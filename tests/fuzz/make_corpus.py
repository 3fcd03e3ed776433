#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

fuzz_reader inputs: byte 0 = largest chunk size - 1, byte 1 = chunk seed,
then the result body. fuzz_schema inputs: '\\n'-separated fields, the first
byte of each selects the type and how the field is added."""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))

SCHEMA = ('"schema":[{"id":"name","header":"Name","type":"string"},'
          '{"id":"n","type":"number"},{"id":"ok","type":"boolean"},{"id":"","type":"date"}]')
DATA = ('"data":[{"name":"a","n":1,"ok":true},{"name":"b\\u00e9","n":2.5e-3,"ok":false},'
        '{"name":null,"n":-9223372036854775808,"ok":null,"extra":{"x":[1,2,{"y":"z"}]}},'
        '[1,"two",18446744073709551616,[],{}]]')
META = '"start":0,"end":4,"result":{"summary":{"totalNumberOfRows":4,"executionDurationMillis":12}}'

BODIES = [
    '{' + SCHEMA + ',' + DATA + ',' + META + '}',
    '{' + DATA + ',' + SCHEMA + ',' + META + '}',
    '{' + META + ',' + DATA + '}',
    '{"data":[]}',
    '{}',
    ' {"schema":[],"data":[[]]} \n',
    '{"data":[{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\ud83d\\ude00","u":"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}]}',
    '{"data":[[0,-0,0.0,1e22,1e23,1E+2,5e-324,1e400,123456789012345678901234567890]]}',
    '{"other":{"a":[{"b":[{"c":null}]}]},"data":[{"k":[[[[["deep"]]]]]}]}',
    # hostile: each must be refused
    '{"data":[[NaN]]}',
    '{"data":[[Infinity,-Infinity]]}',
    '{"data":[{"amount":1,"amount\\u0000x":9}]}',
    '{"data":[]}<html>',
    '{"data":[["\xc0\x80","\xed\xa0\x80","\xf4\x90\x80\x80"]]}',
    '{"data":[["\\ud800"]]}',
    '{"data":[[01]]}',
    "{'data':[]}",
    '{"data":[[1,]],}',
    '{"data":[] /* x */}',
    '{"data":[{"a":1,"a":2}]}',
    '{"data":[],"data":[]}',
    'null',
    '',
    '{"data":[[' + '[' * 80 + ']' * 80 + ']]}',
    '{"schema":[{"id":1}]}',
    '{"schema":{"id":"a"}}',
    '{"data":[1,2]}',
    '{"data":[["a\tb"]]}',
    '{"data":[{"a":1}',
]

# bodies run with small limits (byte 1 >= 0xC0): each hits one limit
TIGHT = [
    b'{"schema":[{"id":"a"},{"id":"b"}],"data":[[1,2,3,4,5],[1,2,3,4,5,6],{"a":"' + b'0123456789' * 10 + b'"}]}',
    b'{"data":[[[[[[1]]]]]]}',
    b'{"data":[{"a":[[[1]]]}],"schema":[]}',
    b'{"x":"' + b'y' * 200 + b'"}',
]

SCHEMAS = [
    b'\x00name\n\x01Name\n\x02\n\x03NAME\n\x04name_2\n\x00_run_id\n\x00_ROW\n\x00col_3',
    b'\x10key\n\x11Key\n\x12\n\x13a"b\n\x14select\n\x15 \n',
    b'\x20\n\x21abc\n\x22\n\x23\n\x24x' * 4,
    b'\x00\xc3\x89t\xc3\xa9\n\x00\xc3\xa9t\xc3\xa9\n\x00a\x00b\n\x10a\x00b',
    b'\x00same\n' * 50,
]


def write(target, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def main():
    for i, body in enumerate(BODIES):
        raw = body.encode('latin-1') if all(ord(c) < 256 for c in body) else body.encode()
        for chunk, seed in ((0, 0), (6, i), (63, 7 * i + 1)):
            write('fuzz_reader', bytes([chunk, seed % 256]) + raw)
    for i, body in enumerate(TIGHT):
        for chunk in (0, 5, 40):
            write('fuzz_reader', bytes([chunk, 0xC0 + i]) + body)
    for s in SCHEMAS:
        write('fuzz_schema', s)


if __name__ == '__main__':
    main()
