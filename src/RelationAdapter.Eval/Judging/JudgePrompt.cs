namespace RelationAdapter.Eval.Judging;

/// <summary>The GPT-C / GPT-A protocol of the paper (appendix, Figure 10).</summary>
public static class JudgePrompt
{
    /// <summary>The paper's instruction, word for word (en dashes and spacing included): a parameter of the metric.</summary>
    public const string Text =
        """
        You are given a composite image with two columns. The left column contains three images arranged vertically: Left Column: A (original image), A1 (edited version of A), B (another original image). The right column contains two images: B1 and B2, which are two independently edited versions of image B. Your task is to independently score B1 and B2 based on two dimensions: 1. Edit Consistency (1–5): How visually consistent is the edited image (B1 or B2) with the original image B? Focus: Are key objects, colors, and structures consistent with the source? 2. Edit Accuracy (1–5): Assess how accurately the editing operation applied to B (to produce B1 or B2) mirrors the transformation seen from A → A1. Focus: Did the editor apply similar changes, in the correct location, with the same degree of modification? Avoid giving tied scores unless B1 and B2 are truly indistinguishable. Ensure scores reflect nuanced differences in both consistency and accuracy between B1 and B2. Be critical. Reserve scores of 4–5 for highly consistent/accurate edits. Be objective and concise in your assessment. Return your answer in the following JSON format: { "B1": {"consistency":<1-5>, "accuracy":<1-5>}, "B2": {"consistency":<1-5>, "accuracy":<1-5>} }
        """;
}
