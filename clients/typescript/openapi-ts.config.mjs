// @ts-check
import { defineConfig } from '@hey-api/openapi-ts';

// The client document: the contract less the `Prefer: wait` image answer of POST /v1/edits, so creating an
// edit returns the job (see src/RelationAdapter.Service/Hosting/OpenApiExport.cs).
export default defineConfig({
  input: '../../openapi/relation-adapter.v1.client.json',
  output: {
    path: 'src/generated',
    // Under NodeNext, relative imports need their extension; the emitted .js files keep the same names.
    module: { extension: '.js' },
  },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
});
