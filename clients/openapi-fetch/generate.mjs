// Generates src/generated/schema.ts from the committed client document with openapi-typescript, through its documented
// Node API (the two options below have no command-line form):
//  - a binary schema (a multipart part, an image answer) is a Blob, which a File is, instead of the string it would be
//    in JSON;
//  - a field with a default may be left out: the defaults are the server's. openapi-typescript otherwise types such a
//    property as always present, which holds for answers but not for the request forms.
import { mkdir, writeFile } from 'node:fs/promises';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';

const blob = ts.factory.createTypeReferenceNode('Blob');
const nullType = ts.factory.createLiteralTypeNode(ts.factory.createNull());

const ast = await openapiTS(new URL('../../openapi/relation-adapter.v1.client.json', import.meta.url), {
  defaultNonNullable: false,
  enumValues: true,
  transform(schema) {
    if (schema.format === 'binary') return schema.nullable ? ts.factory.createUnionTypeNode([blob, nullType]) : blob;
    return undefined;
  },
});
await mkdir(new URL('./src/generated/', import.meta.url), { recursive: true });
await writeFile(new URL('./src/generated/schema.ts', import.meta.url), astToString(ast));
console.log('wrote src/generated/schema.ts');
