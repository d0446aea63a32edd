#!/usr/bin/env bash
# Regenerates spiece.model and expected_ids.json with Debian's sentencepiece tools (apt-get install sentencepiece).
# The expected ids come from spm_encode, an implementation independent of the code under test.
set -euo pipefail
cd "$(dirname "$0")"
spm_train --input=corpus.txt --model_prefix=spiece --model_type=unigram --vocab_size=120 \
  --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --character_coverage=1.0 >/dev/null 2>&1
rm -f spiece.vocab
{
  echo '['
  first=1
  while IFS= read -r prompt; do
    ids=$(printf '%s\n' "$prompt" | spm_encode --model=spiece.model --output_format=id | tr ' ' ',')
    [ $first -eq 1 ] || echo ','
    first=0
    printf '  {"prompt": %s, "ids": [%s]}' "$(printf '%s' "$prompt" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" "$ids"
  done < prompts.txt
  echo
  echo ']'
} > expected_ids.json
