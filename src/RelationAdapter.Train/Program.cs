using RelationAdapter.Train;

if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(TrainOptions.Usage);
    return args.Length == 0 ? 2 : 0;
}
TrainOptions options;
try
{
    options = TrainOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(TrainOptions.Usage);
    return 2;
}
return TrainCommand.Run(options);
