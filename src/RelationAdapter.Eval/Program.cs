using RelationAdapter.Eval;

return await EvalCommandLine.Create().Parse(args).InvokeAsync();
