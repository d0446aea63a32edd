using Google.Protobuf;
using Microsoft.ML.Tokenizers;

namespace RelationAdapter.Core.Text;

/// <summary>
/// T5's SentencePiece unigram tokenizer (<c>tokenizer_2/spiece.model</c>) on Microsoft.ML.Tokenizers:
/// the pieces, then EOS (id 1), padded with id 0 to exactly <see cref="Length"/>; longer prompts are
/// truncated so that EOS is kept.
/// </summary>
public sealed class T5Tokenizer : ITextTokenizer
{
    public const int EosId = 1, PadId = 0;

    readonly SentencePieceTokenizer _pieces;

    public int Length { get; }

    public int ContentCapacity => Length - 1;

    T5Tokenizer(SentencePieceTokenizer pieces, int length)
    {
        _pieces = pieces;
        Length = length;
    }

    public static T5Tokenizer Load(string spieceModelPath, int length = 512)
    {
        using var stream = new MemoryStream(WithBosIdForUnigramLoader(File.ReadAllBytes(spieceModelPath)));
        return new T5Tokenizer(SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false), length);
    }

    const int TrainerSpecField = 2, UnkIdField = 40, BosIdField = 41;

    /// <summary>
    /// T5's model has no BOS piece (bos_id −1), which Microsoft.ML.Tokenizers 2.0's unigram loader indexes
    /// unconditionally. BOS is never added here, so the spec's bos_id is pointed at the unknown piece.
    /// </summary>
    static byte[] WithBosIdForUnigramLoader(byte[] model)
    {
        var output = new MemoryStream();
        var writer = new CodedOutputStream(output);
        var reader = new CodedInputStream(model);
        for (uint tag; (tag = reader.ReadTag()) != 0;)
        {
            if (WireFormat.GetTagFieldNumber(tag) == TrainerSpecField && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                writer.WriteTag(tag);
                writer.WriteBytes(ByteString.CopyFrom(PatchTrainerSpec(reader.ReadBytes().ToByteArray())));
            }
            else
            {
                CopyField(reader, writer, tag);
            }
        }
        writer.Flush();
        return output.ToArray();
    }

    static byte[] PatchTrainerSpec(byte[] spec)
    {
        var reader = new CodedInputStream(spec);
        var fields = new List<(uint Tag, byte[] Bytes)>();
        int unkId = 0, bosId = 1;
        for (uint tag; (tag = reader.ReadTag()) != 0;)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            if (field == UnkIdField) unkId = reader.ReadInt32();
            else if (field == BosIdField) bosId = reader.ReadInt32();
            else
            {
                var buffer = new MemoryStream();
                var copy = new CodedOutputStream(buffer);
                CopyField(reader, copy, tag);
                copy.Flush();
                fields.Add((tag, buffer.ToArray()));
            }
        }
        var output = new MemoryStream();
        foreach (var (_, bytes) in fields) output.Write(bytes);
        var writer = new CodedOutputStream(output);
        writer.WriteTag(UnkIdField, WireFormat.WireType.Varint);
        writer.WriteInt32(unkId);
        writer.WriteTag(BosIdField, WireFormat.WireType.Varint);
        writer.WriteInt32(bosId < 0 ? unkId : bosId);
        writer.Flush();
        return output.ToArray();
    }

    static void CopyField(CodedInputStream reader, CodedOutputStream writer, uint tag)
    {
        writer.WriteTag(tag);
        switch (WireFormat.GetTagWireType(tag))
        {
            case WireFormat.WireType.Varint: writer.WriteUInt64(reader.ReadUInt64()); break;
            case WireFormat.WireType.Fixed64: writer.WriteFixed64(reader.ReadFixed64()); break;
            case WireFormat.WireType.Fixed32: writer.WriteFixed32(reader.ReadFixed32()); break;
            case WireFormat.WireType.LengthDelimited: writer.WriteBytes(reader.ReadBytes()); break;
            default: throw new InvalidDataException($"unsupported protobuf wire type in a SentencePiece model (tag {tag}).");
        }
    }

    /// <summary>The pieces alone, without EOS or padding.</summary>
    public IReadOnlyList<int> Pieces(string text)
    {
        var ids = _pieces.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false,
            considerPreTokenization: true, considerNormalization: true);
        // SentencePiece merges a run of unknown characters into one unknown piece; this loader emits one per character.
        var merged = new List<int>(ids.Count);
        foreach (var id in ids)
            if (id != _pieces.UnknownId || merged.Count == 0 || merged[^1] != _pieces.UnknownId)
                merged.Add(id);
        return merged;
    }

    public int[] Encode(string text, out bool truncated)
    {
        var pieces = Pieces(text);
        truncated = pieces.Count > Length - 1;
        var ids = new int[Length];
        var kept = Math.Min(pieces.Count, Length - 1);
        for (var i = 0; i < kept; i++) ids[i] = pieces[i];
        ids[kept] = EosId;
        return ids;
    }
}
